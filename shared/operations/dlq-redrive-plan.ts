import { Header } from '../headers.js';
import type { TopicNames } from '../topics.js';
import { matches, type DeadLetterRecord, type DlqFilter } from './dlq-filter.js';

/**
 * Redrive progress of one DLQ partition, kept as the redrive group's committed offset and its
 * commit metadata: every record below `next` is settled, and so is every record inside `ranges`
 * (offsets above `next`, inclusive pairs). A filtered redrive settles records out of order, which
 * an offset alone cannot say; the ranges can, so each dead letter is redriven at most once.
 */
export interface PartitionProgress {
  next: number;
  ranges: [number, number][];
}

const PREFIX = 'redrive/v1 ';
/** Kafka refuses commit metadata above offset.metadata.max.bytes (4096 by default). */
export const PROGRESS_METADATA_LIMIT = 3_000;

export function decodeProgress(committed: number | null, metadata: string | null, low: number): PartitionProgress {
  const next = Math.max(committed ?? low, low);
  if (!metadata?.startsWith(PREFIX)) return { next, ranges: [] };
  const ranges = metadata
    .slice(PREFIX.length)
    .split(',')
    .filter((part) => part.length > 0)
    .map((part): [number, number] => {
      const [from, to = from] = part.split('-');
      return [Number(from), Number(to)];
    })
    .filter(([from, to]) => Number.isInteger(from) && Number.isInteger(to) && to >= next);
  return { next, ranges };
}

export function encodeProgress(progress: PartitionProgress): { offset: string; metadata: string } {
  return { offset: String(progress.next), metadata: PREFIX + progress.ranges.map(rangeText).join(',') };
}

function rangeText([from, to]: [number, number]): string {
  return from === to ? String(from) : `${from}-${to}`;
}

export function isSettled(progress: PartitionProgress, offset: number): boolean {
  return offset < progress.next || progress.ranges.some(([from, to]) => offset >= from && offset <= to);
}

/** Where a dead letter goes back to, or why it does not. */
export type RedriveDecision =
  | { action: 'redrive'; topic: string; key: Buffer | null; value: Buffer; headers: Record<string, string> }
  | { action: 'skip'; why: SkipReason };

export type SkipReason = 'results-consumer' | 'unknown-origin' | 'no-value';

export const SKIP_EXPLANATION: Record<SkipReason, string> = {
  'results-consumer': 'results dead-lettered by a consumer of the results topic, the ack aggregator or the session writer (not callbacks; left in the DLQ)',
  'unknown-origin': 'no original-topic header of this pipeline (left in the DLQ)',
  'no-value': 'no value to process (left in the DLQ)',
};

/**
 * Callbacks dead-lettered by fulfillment go back, original bytes unchanged, through the first retry
 * tier, so a large redrive waits behind no live callback and holds none back. Results the ack
 * aggregator or the session writer dead-lettered are not callbacks: writing them to the results
 * topic again would show every other consumer of that topic a second result for the same event, so
 * they are skipped.
 */
export function redriveDecision(record: DeadLetterRecord, dlqTopic: string, topics: TopicNames, now: number): RedriveDecision {
  const origin = record.headers[Header.originalTopic];
  if (origin === topics.results) return { action: 'skip', why: 'results-consumer' };
  if (origin === undefined || !isCallbackTopic(origin, topics)) return { action: 'skip', why: 'unknown-origin' };
  if (record.value === null) return { action: 'skip', why: 'no-value' };

  const kept = [Header.eventId, Header.correlationId, Header.receivedAt, Header.traceparent, Header.originalPartition, Header.originalOffset];
  const headers: Record<string, string> = {};
  for (const name of kept) {
    const value = record.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  headers[Header.originalTopic] = topics.callbacks;
  // A fresh start: the retry budget and window count again from the redrive.
  headers[Header.retryAttempt] = '0';
  headers[Header.retryDueAt] = String(now);
  headers[Header.redrivenFrom] = `${dlqTopic}:${record.partition}:${record.offset}`;
  return { action: 'redrive', topic: topics.retry(1), key: record.key, value: record.value, headers };
}

function isCallbackTopic(topic: string, topics: TopicNames): boolean {
  if (topic === topics.callbacks) return true;
  const tierPrefix = topics.retry(1).slice(0, -1);
  return topic.startsWith(tierPrefix) && /^\d+$/.test(topic.slice(tierPrefix.length));
}

export interface RedriveMove {
  record: DeadLetterRecord;
  topic: string;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

export interface RedrivePlan {
  moves: RedriveMove[];
  skipped: Record<SkipReason, number>;
  /** Matched the filter but were redriven by an earlier run. */
  alreadyRedriven: number;
  /** Did not match the filter: left for a later redrive. */
  notSelected: number;
  /** Matched, but the progress record of their partition is full; a later run takes them. */
  deferred: number;
  progress: Map<number, PartitionProgress>;
  /** Partitions whose progress changed, to commit after the moves were written. */
  changed: number[];
}

/**
 * Decides what a redrive moves and the progress after it. `records` must hold every record of each
 * partition from its progress `next` up to `high` (exclusive), as read.
 */
export function planRedrive(input: {
  records: DeadLetterRecord[];
  progress: Map<number, PartitionProgress>;
  high: Map<number, number>;
  filter: DlqFilter;
  decide: (record: DeadLetterRecord) => RedriveDecision;
  metadataLimit?: number;
}): RedrivePlan {
  const plan: RedrivePlan = {
    moves: [],
    skipped: { 'results-consumer': 0, 'unknown-origin': 0, 'no-value': 0 },
    alreadyRedriven: 0,
    notSelected: 0,
    deferred: 0,
    progress: new Map(),
    changed: [],
  };
  const limit = input.metadataLimit ?? PROGRESS_METADATA_LIMIT;
  for (const [partition, before] of input.progress) {
    const records = input.records.filter((r) => r.partition === partition).sort((a, b) => a.offset - b.offset);
    const tracker = new ProgressTracker();
    let full = false;
    for (const record of records) {
      if (isSettled(before, record.offset)) {
        if (matches(record, input.filter)) plan.alreadyRedriven += 1;
        tracker.add(record.offset, true);
        continue;
      }
      if (!matches(record, input.filter)) {
        plan.notSelected += 1;
        tracker.add(record.offset, false);
        continue;
      }
      if (full || tracker.lengthIfSettled(record.offset) > limit) {
        full = true;
        plan.deferred += 1;
        tracker.add(record.offset, false);
        continue;
      }
      const decision = input.decide(record);
      if (decision.action === 'redrive') plan.moves.push({ record, ...decision });
      else plan.skipped[decision.why] += 1;
      tracker.add(record.offset, true);
    }
    const after = tracker.result(input.high.get(partition) ?? before.next);
    plan.progress.set(partition, after);
    if (encodeProgress(after).metadata !== encodeProgress(before).metadata || after.next !== before.next) {
      plan.changed.push(partition);
    }
  }
  return plan;
}

/** Builds the progress of one partition while its records are walked in offset order. */
class ProgressTracker {
  private next: number | null = null;
  private readonly ranges: [number, number][] = [];
  private lastSettled = false;
  private length = PREFIX.length;

  add(offset: number, settled: boolean): void {
    if (this.next === null) {
      if (!settled) this.next = offset;
      return;
    }
    if (settled) {
      this.length = this.lengthIfSettled(offset);
      const last = this.ranges[this.ranges.length - 1];
      if (this.lastSettled && last) last[1] = offset;
      else this.ranges.push([offset, offset]);
    }
    this.lastSettled = settled;
  }

  /** The metadata length if this record were settled next. */
  lengthIfSettled(offset: number): number {
    if (this.next === null) return this.length;
    const last = this.ranges[this.ranges.length - 1];
    if (this.lastSettled && last) return this.length - rangeText(last).length + rangeText([last[0], offset]).length;
    return this.length + (this.ranges.length > 0 ? 1 : 0) + String(offset).length;
  }

  /** Records between the last one read and `high` are control records or none: settled too. */
  result(high: number): PartitionProgress {
    return { next: this.next ?? high, ranges: this.ranges.map(([from, to]) => [from, to]) };
  }
}
