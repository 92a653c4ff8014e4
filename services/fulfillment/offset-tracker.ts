/**
 * Progress of one partition under out-of-order completion: records are accepted in offset order,
 * finish in any order, and only the offset below which everything finished may be committed.
 * Each finished record can carry a payload (its output records, for a transactional flush). No I/O.
 */
interface Entry<T> {
  offset: bigint;
  done: boolean;
  payload: T | undefined;
}

export interface FinishedPrefix<T> {
  /** Payloads of the finished records, in offset order. */
  payloads: T[];
  /** The offset to commit: the lowest unfinished one, or one past the last accepted. */
  nextOffset: string;
}

export class OffsetTracker<T = undefined> {
  private entries: Entry<T>[] = [];
  private head = 0;
  private readonly byOffset = new Map<string, Entry<T>>();
  private highest: bigint | undefined;

  /** True if `offset` was accepted before (it is in progress or already finished). */
  seen(offset: string): boolean {
    return this.highest !== undefined && BigInt(offset) <= this.highest;
  }

  accept(offset: string): void {
    const value = BigInt(offset);
    if (this.highest !== undefined && value <= this.highest) {
      throw new Error(`offset ${offset} accepted out of order (highest ${this.highest})`);
    }
    const entry: Entry<T> = { offset: value, done: false, payload: undefined };
    this.entries.push(entry);
    this.byOffset.set(offset, entry);
    this.highest = value;
  }

  finish(offset: string, payload?: T): void {
    const entry = this.byOffset.get(offset);
    if (!entry) throw new Error(`offset ${offset} was never accepted or is already committed`);
    entry.done = true;
    entry.payload = payload;
  }

  /** Accepted and not finished. */
  get unfinished(): number {
    let count = 0;
    for (let i = this.head; i < this.entries.length; i += 1) if (!(this.entries[i] as Entry<T>).done) count += 1;
    return count;
  }

  /** Removes the finished records at the front; undefined when the front record is unfinished. */
  takeFinishedPrefix(): FinishedPrefix<T> | undefined {
    const payloads: T[] = [];
    let last: bigint | undefined;
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head] as Entry<T>;
      if (!entry.done) break;
      if (entry.payload !== undefined) payloads.push(entry.payload);
      this.byOffset.delete(entry.offset.toString());
      last = entry.offset;
      this.head += 1;
    }
    if (last === undefined) return undefined;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    const front = this.entries[this.head];
    return { payloads, nextOffset: (front ? front.offset : last + 1n).toString() };
  }
}
