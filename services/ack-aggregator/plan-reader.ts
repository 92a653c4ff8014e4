import { randomUUID } from 'node:crypto';
import type { AckBatch } from '../../shared/contracts.js';
import { RetriableError, errorMessage } from '../../shared/errors.js';
import { headerValue } from '../../shared/headers.js';
import type { Admin, KafkaClient } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { TopicSerde } from '../../shared/serde.js';

/** Header on every record the aggregator writes to the batches topic: the consumer group it acknowledges for. */
export const ACK_GROUP_HEADER = 'ack-group';

export class PlanReadTimeout extends RetriableError {}

export interface PlanReaderSettings {
  kafka: KafkaClient;
  admin: Admin;
  topic: string;
  serde: TopicSerde<'AckBatch'>;
  groupId: string;
  logger: Logger;
  timeoutMs?: number;
}

/**
 * Reads this group's records from the batches topic written since `sinceMs`, up to the end the
 * topic had when the read began. A throwaway consumer group with no commits does the reading
 * (kafkajs has no group-less fetch); when nothing was written since `sinceMs`, no consumer starts.
 */
export async function readBatchRecords(settings: PlanReaderSettings, sinceMs: number): Promise<AckBatch[]> {
  const { admin, topic, kafka, serde, groupId, logger } = settings;
  const [starts, ends] = await Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, Math.max(0, sinceMs)), admin.fetchTopicOffsets(topic)]);
  const end = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const from = new Map(starts.map((s) => [s.partition, Math.min(Number(s.offset), end.get(s.partition) ?? 0)]));
  const remaining = new Set([...from].filter(([partition, offset]) => offset < (end.get(partition) ?? 0)).map(([p]) => p));
  if (remaining.size === 0) return [];

  const found: AckBatch[] = [];
  const consumer = kafka.consumer({ groupId: `${groupId}.plan-reader.${randomUUID()}`, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  // Seeks stored at join time are applied before the first fetch; the offset filter below guards the rest.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: String(offset) });
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const start = from.get(batch.partition) ?? 0;
        const stop = end.get(batch.partition) ?? 0;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < start || offset >= stop || message.value === null) continue;
          if (headerValue(message.headers, ACK_GROUP_HEADER) !== groupId) continue;
          try {
            found.push(await serde.decode(message.value));
          } catch (error) {
            logger.warn({ topic, partition: batch.partition, offset, err: errorMessage(error) }, 'unreadable batch record skipped');
          }
        }
        if (Number(batch.lastOffset()) >= stop - 1) remaining.delete(batch.partition);
        if (remaining.size === 0) finish();
      },
    });
    const timeoutMs = settings.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PlanReadTimeout(`reading batch plans took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([finished, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return found;
}
