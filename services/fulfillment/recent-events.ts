/**
 * Event ids whose result was durably written within the last `windowMs`, so a repeat of the same
 * callback is not sent downstream again. One window for all entries, so they expire in insertion
 * order and eviction only looks at the front of the map. Per instance, in memory. No I/O.
 */
export class RecentEvents {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  has(eventId: string): boolean {
    const expiresAt = this.expiries.get(eventId);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.expiries.delete(eventId);
    return false;
  }

  add(eventId: string): void {
    if (this.windowMs <= 0) return;
    this.expiries.delete(eventId);
    this.expiries.set(eventId, this.now() + this.windowMs);
    this.evict();
  }

  get size(): number {
    return this.expiries.size;
  }

  private evict(): void {
    const now = this.now();
    for (const [eventId, expiresAt] of this.expiries) {
      if (expiresAt > now && this.expiries.size <= this.maxEntries) break;
      this.expiries.delete(eventId);
    }
  }
}
