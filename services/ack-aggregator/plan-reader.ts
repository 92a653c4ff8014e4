import { randomUUID } from 'node:crypto';
import type { AckBatch } from '../../shared/contracts.js';
import { errorMessage } from '../../shared/errors.js';
import type { Admin, KafkaClient } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { TopicSerde } from '../../shared/serde.js';
import { readTopicRange } from '../../shared/stage/topic-reader.js';

/** Header on every record the aggregator writes to the batches topic: the consumer group it acknowledges for. */
export const ACK_GROUP_HEADER = 'ack-group';

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
 * topic had when the read began, with a throwaway reading group (no consumer starts when nothing
 * was written since `sinceMs`).
 */
export async function readBatchRecords(settings: PlanReaderSettings, sinceMs: number): Promise<AckBatch[]> {
  const { admin, topic, serde, groupId, logger } = settings;
  const [starts, ends] = await Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, Math.max(0, sinceMs)), admin.fetchTopicOffsets(topic)]);
  const to = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const from = new Map(starts.map((s) => [s.partition, Math.min(Number(s.offset), to.get(s.partition) ?? 0)]));
  const read = await readTopicRange(settings.kafka, {
    topic,
    groupId: `${groupId}.plan-reader.${randomUUID()}`,
    from,
    to,
    keep: (record) => record.value !== null && record.headers[ACK_GROUP_HEADER] === groupId,
    timeoutMs: settings.timeoutMs,
  });
  await read.close().catch(() => undefined);
  const found: AckBatch[] = [];
  for (const record of read.records) {
    try {
      found.push(await serde.decode(record.value as Buffer));
    } catch (error) {
      logger.warn({ topic, partition: record.partition, offset: record.offset, err: errorMessage(error) }, 'unreadable batch record skipped');
    }
  }
  return found;
}
