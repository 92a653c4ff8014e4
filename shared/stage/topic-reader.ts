import { RetriableError } from '../errors.js';
import type { KafkaClient } from '../kafka.js';
import { toConsumedRecord, type ConsumedRecord } from './records.js';

export interface TopicRange {
  topic: string;
  /** The reading consumer group: joined while the range is open, never committed. */
  groupId: string;
  /** Per partition, the first offset to read. */
  from: ReadonlyMap<number, number>;
  /** Per partition, the end (exclusive); partitions absent here are not read. */
  to: ReadonlyMap<number, number>;
  /** Records to keep (all when absent). */
  keep?: (record: ConsumedRecord) => boolean;
  timeoutMs?: number;
}

export interface RangeRead {
  records: ConsumedRecord[];
  /** Leaves the group; until then the reading group shows a member (an operator's lock, for example). */
  close(): Promise<void>;
}

/** The range was not read to its end in time (an open transaction holds it back); reading again may work. */
export class TopicReadTimeout extends RetriableError {}

/**
 * Reads each partition of a topic from `from` up to `to` (exclusive), then stops fetching. kafkajs
 * has no group-less fetch, so a consumer group does the reading, without commits. Committed
 * transactional writes only. A range ending in transaction markers is still seen to its end:
 * fetches that hold only markers never reach eachBatch, but they do end a batch.
 */
export async function readTopicRange(kafka: KafkaClient, range: TopicRange): Promise<RangeRead> {
  const records: ConsumedRecord[] = [];
  const pending = new Set([...range.to].filter(([p, end]) => (range.from.get(p) ?? end) < end).map(([p]) => p));
  // Nothing to read: no group join (a join costs a rebalance round trip).
  if (pending.size === 0) return { records, close: async () => undefined };
  const consumer = kafka.consumer({ groupId: range.groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [range.topic], fromBeginning: true });
    let markDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const reached = (partition: number, lastOffset: string) => {
      if (Number(lastOffset) >= (range.to.get(partition) ?? 0) - 1) pending.delete(partition);
      if (pending.size === 0) markDone();
    };
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = range.to.get(batch.partition) ?? 0;
        const start = range.from.get(batch.partition) ?? end;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < start || offset >= end || !pending.has(batch.partition)) continue;
          const record = toConsumedRecord(range.topic, batch.partition, message);
          if (range.keep === undefined || range.keep(record)) records.push(record);
        }
      },
    });
    for (const [partition, end] of range.to) {
      consumer.seek({ topic: range.topic, partition, offset: String(Math.min(range.from.get(partition) ?? end, end)) });
    }
    await withTimeout(done, range.timeoutMs ?? 60_000, () => `partitions ${[...pending].join(', ')} of ${range.topic}`);
    consumer.pause([{ topic: range.topic }]);
    return { records, close: () => consumer.disconnect() };
  } catch (error) {
    await consumer.disconnect().catch(() => undefined);
    throw error;
  }
}

async function withTimeout(promise: Promise<void>, ms: number, what: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TopicReadTimeout(`reading stopped short after ${ms} ms on ${what()} (an open transaction?)`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
