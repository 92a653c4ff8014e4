import { errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';

interface Entry<T> {
  offset: number;
  done: boolean;
  payload: T | undefined;
}

export interface FinishedPrefix<T> {
  /** Payloads of the records finished since the last take, in offset order. */
  payloads: T[];
  /** The offset to commit: one past the last record of the finished prefix. */
  nextOffset: number;
}

/**
 * One partition under out-of-order completion. Records are accepted in offset order and finish in
 * any order (a session waits for its downstream call while the next session's record is already
 * done), so only the offset after the longest finished prefix may be committed: committing past
 * an unfinished record would lose it at the next restart. Offsets need not be contiguous
 * (compaction, transaction markers). A finished record may carry a payload (its outputs, for a
 * transactional flush). No I/O.
 */
export class PartitionProgress<T = undefined> {
  private entries: Entry<T>[] = [];
  private head = 0;
  private readonly unfinished = new Map<number, Entry<T>>();
  private highest: number | undefined;
  private finishedTo: number | undefined;
  private takenTo: number | undefined;
  private collected: T[] = [];
  private committedAt: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The committed offset this partition was taken at, when known. */
    committed?: number,
  ) {
    this.committedAt = committed;
  }

  /** True if `offset` was accepted before (it is in progress or finished). */
  seen(offset: number): boolean {
    return this.highest !== undefined && offset <= this.highest;
  }

  accept(offset: number): void {
    if (this.seen(offset)) throw new Error(`offset ${offset} accepted out of order (highest ${this.highest})`);
    const entry: Entry<T> = { offset, done: false, payload: undefined };
    this.entries.push(entry);
    this.unfinished.set(offset, entry);
    this.highest = offset;
  }

  /**
   * The last offset of a fetch, which may be a transaction marker after the last record: it is
   * finished as soon as everything before it is, so the commit can move past it.
   */
  acceptThrough(lastOffset: number): void {
    if (this.seen(lastOffset)) return;
    this.entries.push({ offset: lastOffset, done: true, payload: undefined });
    this.highest = lastOffset;
  }

  /** Marks an accepted record finished; false for an offset not accepted here (an earlier assignment). */
  finish(offset: number, payload?: T): boolean {
    const entry = this.unfinished.get(offset);
    if (entry === undefined) return false;
    entry.done = true;
    entry.payload = payload;
    this.unfinished.delete(offset);
    return true;
  }

  /** Accepted and not finished. */
  get outstanding(): number {
    return this.unfinished.size;
  }

  /**
   * The records finished since the last take, if the finished prefix grew: their payloads and the
   * offset to commit with them.
   */
  takeFinishedPrefix(): FinishedPrefix<T> | undefined {
    this.advance();
    if (this.finishedTo === undefined || this.finishedTo === this.takenTo) return undefined;
    const payloads = this.collected;
    this.collected = [];
    this.takenTo = this.finishedTo;
    return { payloads, nextOffset: this.finishedTo };
  }

  /** The offset to commit next if it moved past the last commit, else undefined. */
  commitDue(): number | undefined {
    this.advance();
    const target = this.finishedTo;
    return target !== undefined && (this.committedAt === undefined || target > this.committedAt) ? target : undefined;
  }

  markCommitted(offset: number): void {
    if (this.committedAt === undefined || offset > this.committedAt) this.committedAt = offset;
  }

  /** The last committed offset known here: where a restarted partition resumes. */
  get committed(): number | undefined {
    return this.committedAt;
  }

  /** Everything below this offset finished (or was committed before this assignment). */
  get finishedBelow(): number | undefined {
    this.advance();
    return this.finishedTo ?? this.committedAt ?? this.entries[this.head]?.offset;
  }

  /** Moves past the finished records at the front, keeping their payloads for the next take. */
  private advance(): void {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head] as Entry<T>;
      if (!entry.done) break;
      if (entry.payload !== undefined) this.collected.push(entry.payload);
      this.finishedTo = entry.offset + 1;
      this.head += 1;
    }
    if (this.head > 1_024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

/** An offset to commit, as the consumer takes it. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface CommitterOptions {
  /** Commits the given offsets for the consumer group (kafkajs `consumer.commitOffsets`). */
  commit: (offsets: TopicPartitionOffset[]) => Promise<void>;
  /** How long finished records wait to share a commit. */
  intervalMs: number;
  /** Before trying a failed commit again. */
  retryMs?: number;
  onCommit?: (result: 'ok' | 'failed') => void;
  logger: Logger;
}

/**
 * The partitions a stage owns and their commits: per partition the offset after the longest
 * finished prefix, one commit request in flight, a failed commit tried again (commits are
 * cumulative, so the next covers the failed one's offsets too).
 */
export class OffsetCommitter<T = undefined> {
  private readonly owned = new Map<string, PartitionProgress<T>>();
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Commits failed in a row; an outage fails one at every retry, logged once. */
  private failures = 0;

  constructor(private readonly options: CommitterOptions) {}

  /** The progress of a partition, started at `committed` if it is new. */
  open(topic: string, partition: number, committed?: number): PartitionProgress<T> {
    const id = partitionKey(topic, partition);
    let progress = this.owned.get(id);
    if (progress === undefined) this.owned.set(id, (progress = new PartitionProgress<T>(topic, partition, committed)));
    return progress;
  }

  get(topic: string, partition: number): PartitionProgress<T> | undefined {
    return this.owned.get(partitionKey(topic, partition));
  }

  /** Marks a record finished; false when its partition or offset is not tracked (an earlier assignment). */
  finish(topic: string, partition: number, offset: number, payload?: T): boolean {
    return this.get(topic, partition)?.finish(offset, payload) ?? false;
  }

  /** The partition was revoked or restarts from its committed offset: what it delivered counts no more. */
  release(progress: PartitionProgress<T>): void {
    const id = partitionKey(progress.topic, progress.partition);
    if (this.owned.get(id) === progress) this.owned.delete(id);
  }

  /** A rebalance: offsets go back to the last commit, so every partition starts clean. */
  reset(): void {
    this.owned.clear();
  }

  partitions(): IterableIterator<PartitionProgress<T>> {
    return this.owned.values();
  }

  /** Records delivered and not finished, over all partitions. */
  get outstanding(): number {
    let count = 0;
    for (const progress of this.owned.values()) count += progress.outstanding;
    return count;
  }

  /** Commits what finished, after the interval (so one request covers many records). */
  commitSoon(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.commitNow();
    }, this.options.intervalMs);
  }

  /** The last commit (shutdown): waits for the one in flight, then commits whatever finished since. */
  async flush(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.commitNow();
  }

  private async commitNow(): Promise<void> {
    if (this.committing !== undefined) {
      this.again = true;
      await this.committing;
      if (!this.again) return;
    }
    this.committing = this.commitLoop().finally(() => {
      this.committing = undefined;
    });
    await this.committing;
  }

  private async commitLoop(): Promise<void> {
    do {
      this.again = false;
      // Held across the await: a rebalance meanwhile replaces the partitions, and new ones start clean.
      const due = [...this.owned.values()].flatMap((progress) => {
        const offset = progress.commitDue();
        return offset === undefined ? [] : [{ progress, offset }];
      });
      if (due.length === 0) return;
      try {
        await this.options.commit(due.map(({ progress, offset }) => ({ topic: progress.topic, partition: progress.partition, offset: String(offset) })));
        for (const { progress, offset } of due) progress.markCommitted(offset);
        this.options.onCommit?.('ok');
        if (this.failures > 0) this.options.logger.info({ failures: this.failures }, 'offset commits succeed again');
        this.failures = 0;
      } catch (error) {
        // A rebalance in progress refuses commits, and so does a consumer kafkajs is restarting (a
        // broker gone); the next generation starts from the last commit.
        this.options.onCommit?.('failed');
        this.failures += 1;
        const log = this.failures === 1 ? this.options.logger.warn : this.options.logger.debug;
        log.call(this.options.logger, { err: errorMessage(error), failures: this.failures }, 'offset commit failed; retrying');
        if (!this.stopped) setTimeout(() => this.commitSoon(), this.options.retryMs ?? 1_000).unref();
        return;
      }
    } while (this.again);
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
