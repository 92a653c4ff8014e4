/** One slice of the window: the keys set between its first and its last `set`. */
interface Generation<V> {
  readonly entries: Map<string, V>;
  readonly startedAt: number;
  lastSetAt: number;
}

/** How many slices a full window is cut into; an entry outlives the window by at most one slice. */
const SLICES = 16;
/** A slice also closes at this many keys, so that no single map grows (and rehashes) large. */
const MAX_SLICE_ENTRIES = 32_768;

/**
 * Keys (event ids) seen within a time window, each with a value: the ingress keeps the correlation
 * id each accepted callback was answered with, fulfillment the event ids whose result is written.
 * Per instance, in memory, bounded by `maxEntries`.
 *
 * The keys live in a queue of small maps (generations), newest last, and expire a whole
 * generation at a time once its newest key is older than the window: a key is remembered for at
 * least the window and at most one slice (a sixteenth of it) longer. A single map expiring keys
 * one by one from its front would have each eviction step over the holes the earlier ones left
 * (V8 compacts a map's table only when it rehashes), which at a full window of hundreds of
 * thousands of keys costs about 60 µs per callback; growing one map to that size also rehashes it
 * in a single pause of tens of milliseconds (`npm run bench -- dedup`).
 */
export class DedupWindow<V> {
  private readonly generations: Generation<V>[] = [];
  private readonly sliceMs: number;
  private readonly sliceEntries: number;
  private count = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sliceMs = Math.max(1, Math.floor(windowMs / SLICES));
    this.sliceEntries = Math.max(1, Math.min(MAX_SLICE_ENTRIES, Math.floor(maxEntries / SLICES)));
  }

  get(key: string): V | undefined {
    this.expire(this.now());
    for (let i = this.generations.length - 1; i >= 0; i -= 1) {
      const value = this.generations[i]!.entries.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Remembers the key from now on. A key set again is not looked for in the older generations
   * (callers set a key after `get` missed it); its older copy is shadowed and expires unread, and
   * counts towards `size` until then.
   */
  set(key: string, value: V): void {
    if (this.windowMs <= 0) return;
    const now = this.now();
    this.expire(now);
    let newest = this.generations.at(-1);
    if (newest === undefined || now - newest.startedAt >= this.sliceMs || newest.entries.size >= this.sliceEntries) {
      newest = { entries: new Map(), startedAt: now, lastSetAt: now };
      this.generations.push(newest);
    }
    // The bound is kept by dropping the oldest generations whole (at most a sixteenth of it each).
    while (this.count >= this.maxEntries && this.generations[0] !== newest) this.dropOldest();
    const before = newest.entries.size;
    newest.entries.set(key, value);
    newest.lastSetAt = now;
    this.count += newest.entries.size - before;
  }

  /** Forgets the key (every copy of it). */
  delete(key: string): void {
    for (const generation of this.generations) {
      if (generation.entries.delete(key)) this.count -= 1;
    }
  }

  get size(): number {
    return this.count;
  }

  private expire(now: number): void {
    while (this.generations.length > 0 && now - this.generations[0]!.lastSetAt >= this.windowMs) this.dropOldest();
  }

  private dropOldest(): void {
    const oldest = this.generations.shift();
    if (oldest !== undefined) this.count -= oldest.entries.size;
  }
}
