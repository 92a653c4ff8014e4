/**
 * Event ids seen within the window, with the outcome of their first delivery. Entries expire in
 * insertion order (one window for all), so eviction only ever looks at the front of the map.
 * Per instance: fulfillment's own dedup covers repeats that reach another replica.
 */
export class DedupWindow<V> {
  private readonly entries = new Map<string, { expiresAt: number; value: V }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.windowMs <= 0) return;
    this.evict();
    this.entries.delete(key);
    this.entries.set(key, { expiresAt: this.now() + this.windowMs, value });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
