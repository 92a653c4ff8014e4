import { headersToStrings } from './headers.js';
import type { KafkaClient } from './kafka.js';

/** A record as read, headers as strings. */
export interface SnapshotRecord {
  partition: number;
  offset: number;
  /** The record's timestamp (epoch ms). */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface Snapshot {
  records: SnapshotRecord[];
  /** Leaves the group; until then the reading group has a member. */
  close(): Promise<void>;
}

/**
 * Reads each partition of a topic from `from` up to `to` (exclusive), then stops fetching. The
 * consumer group is joined (so the group shows a member while the snapshot is open) but nothing is
 * committed. Committed transactional writes only.
 */
export async function readSnapshot(
  kafka: KafkaClient,
  opts: { topic: string; groupId: string; from: Map<number, number>; to: Map<number, number>; timeoutMs?: number },
): Promise<Snapshot> {
  const records: SnapshotRecord[] = [];
  const pending = new Set([...opts.to].filter(([p, end]) => (opts.from.get(p) ?? end) < end).map(([p]) => p));
  // Nothing to read: no group join (a join costs a rebalance round trip).
  if (pending.size === 0) return { records, close: async () => undefined };
  const consumer = kafka.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  const snapshot: Snapshot = { records, close: () => consumer.disconnect() };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: true });
    let markDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const reached = (partition: number, lastOffset: string) => {
      if (Number(lastOffset) >= (opts.to.get(partition) ?? 0) - 1) pending.delete(partition);
      if (pending.size === 0) markDone();
    };
    // Also fires for fetches that held only transaction markers, which never reach eachBatch.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = opts.to.get(batch.partition) ?? 0;
        const start = opts.from.get(batch.partition) ?? end;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < start || offset >= end || !pending.has(batch.partition)) continue;
          records.push({
            partition: batch.partition,
            offset,
            timestamp: Number(message.timestamp),
            key: message.key,
            value: message.value,
            headers: headersToStrings(message.headers),
          });
        }
      },
    });
    for (const [partition, end] of opts.to) {
      consumer.seek({ topic: opts.topic, partition, offset: String(Math.min(opts.from.get(partition) ?? end, end)) });
    }
    await withTimeout(done, opts.timeoutMs ?? 60_000, () => `partitions ${[...pending].join(', ')}`);
    consumer.pause([{ topic: opts.topic }]);
    return snapshot;
  } catch (error) {
    await consumer.disconnect();
    throw error;
  }
}

async function withTimeout(promise: Promise<void>, ms: number, what: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`reading stopped short after ${ms} ms on ${what()} (an open transaction?)`)), ms);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
