export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

interface Entry {
  offset: number;
  done: boolean;
}

interface PartitionState {
  topic: string;
  partition: number;
  entries: Entry[];
  head: number;
  byOffset: Map<number, Entry>;
  /** The offset after the longest finished prefix: safe to commit. */
  safe: number | null;
  committed: number | null;
  first: number;
  last: number;
}

/**
 * Which offsets may be committed. Records finish out of order (a batch waits for Cognigy while an
 * invalid record behind it is already dead-lettered), so per partition only the offset after the
 * longest run of finished records from the start is committable. Offsets need not be contiguous
 * (transaction markers, compaction); the order in which records were delivered is what counts.
 */
export class OffsetProgress {
  private readonly partitions = new Map<string, PartitionState>();

  /**
   * Records delivered in one fetch, in offset order. `lastOffset` is the fetch's last offset, which
   * may be a transaction marker after the last record: it is done as soon as everything before is.
   */
  track(topic: string, partition: number, offsets: readonly number[], lastOffset?: number): void {
    let state = this.partitions.get(key(topic, partition));
    for (const offset of offsets) {
      if (state === undefined) {
        state = { topic, partition, entries: [], head: 0, byOffset: new Map(), safe: null, committed: null, first: offset, last: offset - 1 };
        this.partitions.set(key(topic, partition), state);
      }
      if (offset <= state.last) continue;
      const entry = { offset, done: false };
      state.entries.push(entry);
      state.byOffset.set(offset, entry);
      state.last = offset;
    }
    if (state !== undefined && lastOffset !== undefined && lastOffset > state.last) {
      state.entries.push({ offset: lastOffset, done: true });
      state.last = lastOffset;
      advance(state);
    }
  }

  /** Marks a delivered record finished; offsets not delivered in this assignment are ignored. */
  done(topic: string, partition: number, offset: number): void {
    const state = this.partitions.get(key(topic, partition));
    const entry = state?.byOffset.get(offset);
    if (state === undefined || entry === undefined) return;
    entry.done = true;
    state.byOffset.delete(offset);
    advance(state);
  }

  /** Partitions whose committable offset moved past the last commit. */
  commitsDue(): PartitionOffset[] {
    const due: PartitionOffset[] = [];
    for (const s of this.partitions.values()) {
      if (s.safe !== null && (s.committed === null || s.safe > s.committed)) due.push({ topic: s.topic, partition: s.partition, offset: s.safe });
    }
    return due;
  }

  committed(topic: string, partition: number, offset: number): void {
    const state = this.partitions.get(key(topic, partition));
    if (state !== undefined && (state.committed === null || offset > state.committed)) state.committed = offset;
  }

  /** The first offset delivered in this assignment: everything below was committed before it. */
  firstOffset(topic: string, partition: number): number | undefined {
    return this.partitions.get(key(topic, partition))?.first;
  }

  /** The next offset that may be committed (everything below is finished). */
  safeOffset(topic: string, partition: number): number | undefined {
    const state = this.partitions.get(key(topic, partition));
    return state === undefined ? undefined : (state.safe ?? state.first);
  }

  /** Records delivered and not finished yet. */
  get outstanding(): number {
    let count = 0;
    for (const s of this.partitions.values()) count += s.byOffset.size;
    return count;
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function advance(state: PartitionState): void {
  while (state.head < state.entries.length) {
    const entry = state.entries[state.head];
    if (entry === undefined || !entry.done) break;
    state.safe = entry.offset + 1;
    state.head += 1;
  }
  if (state.head > 1_024 && state.head * 2 > state.entries.length) {
    state.entries = state.entries.slice(state.head);
    state.head = 0;
  }
}
