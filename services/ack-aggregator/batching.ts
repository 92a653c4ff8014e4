import { createHash } from 'node:crypto';
import type { AckBatch, AckBatchItem, AckBatchPhase, AckBatchRange } from '../../shared/contracts.js';
import type { AckItem } from './ack-items.js';

/** A valid ack item waiting in the open window, with the record it came from. */
export interface PendingAck<S = unknown> {
  topic: string;
  partition: number;
  offset: number;
  /** When the aggregator received it (epoch ms); a window closes ACK_WINDOW_MS after its first item. */
  arrivedAt: number;
  item: AckItem;
  source: S;
}

export interface BatchLimits {
  maxBatch: number;
  windowMs: number;
}

export interface WindowDecision<S> {
  /** Batches to submit now, oldest first. */
  batches: PendingAck<S>[][];
  /** The open window. */
  rest: PendingAck<S>[];
  /** When the open window closes by time (epoch ms), or null when it is empty. */
  closesAt: number | null;
}

/**
 * Cuts the items received so far (in arrival order) into batches: every `maxBatch` items close a
 * batch at once; the remainder closes `windowMs` after its first item, or immediately on `flush`
 * (shutdown).
 */
export function planBatches<S>(
  pending: readonly PendingAck<S>[],
  limits: BatchLimits,
  now: number,
  flush = false,
): WindowDecision<S> {
  const batches: PendingAck<S>[][] = [];
  let start = 0;
  while (pending.length - start >= limits.maxBatch) {
    batches.push(pending.slice(start, start + limits.maxBatch));
    start += limits.maxBatch;
  }
  let rest = pending.slice(start);
  const first = rest[0];
  if (first !== undefined && (flush || now >= first.arrivedAt + limits.windowMs)) {
    batches.push(rest);
    rest = [];
  }
  const open = rest[0];
  return { batches, rest, closesAt: open === undefined ? null : open.arrivedAt + limits.windowMs };
}

/**
 * The offsets a batch accounts for: per topic-partition, from its first to its last item. A record
 * inside a range that is not an item was dead-lettered on its own before the batch was planned
 * (or is a transaction marker), so the whole range is done once the batch is.
 */
export function rangesOf(entries: readonly { topic: string; partition: number; offset: number }[]): AckBatchRange[] {
  const byPartition = new Map<string, AckBatchRange>();
  for (const { topic, partition, offset } of entries) {
    const key = `${topic}\u0000${partition}`;
    const range = byPartition.get(key);
    if (range === undefined) byPartition.set(key, { topic, partition, fromOffset: offset, toOffset: offset });
    else {
      range.fromOffset = Math.min(range.fromOffset, offset);
      range.toOffset = Math.max(range.toOffset, offset);
    }
  }
  return [...byPartition.values()].sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/**
 * A batch's identity is the offsets it covers, and nothing else: no clock, no randomness. Whoever
 * rebuilds the same ranges, before or after a crash, sends the same Idempotency-Key.
 */
export function batchIdentity(ranges: readonly AckBatchRange[]): { batchId: string; idempotencyKey: string } {
  const canonical = ranges.map((r) => `${r.topic}/${r.partition}/${r.fromOffset}-${r.toOffset}`).join(',');
  const digest = createHash('sha256').update(`ack-batch/v1 ${canonical}`).digest('hex');
  return { idempotencyKey: digest, batchId: `ack-${digest.slice(0, 24)}` };
}

/**
 * The items in the order received, numbered from 0. A webhookId that arrived twice in one window
 * (a duplicated result) is sent once, with its latest status, keeping its first position.
 */
export function statusMatrixOf(items: readonly AckItem[]): AckBatchItem[] {
  const byWebhook = new Map<string, AckItem>();
  for (const item of items) byWebhook.set(item.webhookId, item);
  return [...byWebhook.values()].map((item, sequenceIndex) => ({
    webhookId: item.webhookId,
    sequenceIndex,
    status: item.status,
    errorDirective: item.errorDirective,
  }));
}

/** The PLANNED record of a closed batch: written before the batch is submitted. */
export function planRecord(entries: readonly PendingAck[], at: Date): AckBatch {
  const items = rangesOf(entries);
  const statusMatrix = statusMatrixOf(entries.map((e) => e.item));
  return {
    ...batchIdentity(items),
    phase: 'PLANNED',
    items,
    batchSize: statusMatrix.length,
    processedCount: null,
    failedCount: null,
    latencyMs: null,
    at: at.toISOString(),
    statusMatrix,
  };
}

/** The outcome record of a batch (its items are on the PLANNED record). */
export function outcomeRecord(
  plan: AckBatch,
  phase: Exclude<AckBatchPhase, 'PLANNED'>,
  outcome: { processedCount: number | null; failedCount: number | null; latencyMs: number },
  at: Date,
): AckBatch {
  return { ...plan, phase, ...outcome, at: at.toISOString(), statusMatrix: [] };
}

/** The body of `POST /api/v1/webhooks/batch-acknowledge`. */
export interface AckRequest {
  idempotencyKey: string;
  batchSize: number;
  timestamp: string;
  statusMatrix: { webhookId: string; sequenceIndex: number; status: string; errorDirective?: string }[];
}

/** Built from the plan alone, so a resubmission after a restart sends byte-for-byte the same batch. */
export function ackRequest(plan: AckBatch): AckRequest {
  return {
    idempotencyKey: plan.idempotencyKey,
    batchSize: plan.statusMatrix.length,
    timestamp: plan.at,
    statusMatrix: plan.statusMatrix.map(({ webhookId, sequenceIndex, status, errorDirective }) =>
      errorDirective === null ? { webhookId, sequenceIndex, status } : { webhookId, sequenceIndex, status, errorDirective },
    ),
  };
}
