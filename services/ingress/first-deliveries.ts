import { DedupWindow } from '../../shared/dedup-window.js';

interface Writing {
  written: Promise<void>;
  correlationId: string;
}

/**
 * The first delivery of each recent event id. While its write is in flight, a repeat waits for it;
 * once the broker has the record, only its correlation id is kept, for the window. Holding a
 * string per id rather than the write's promise and a wrapper keeps a full window (300,000 ids at
 * 1,000 callbacks/s) at a fraction of the objects that every full garbage collection has to mark.
 */
export class FirstDeliveries {
  private readonly accepted: DedupWindow<string>;
  private readonly writing = new Map<string, Writing>();

  constructor(
    private readonly windowMs: number,
    maxEntries: number,
  ) {
    this.accepted = new DedupWindow<string>(windowMs, maxEntries);
  }

  /**
   * The correlation id an earlier delivery of `eventId` was accepted under, waiting for one still
   * being written; undefined when there is none, or its write failed.
   */
  async earlier(eventId: string): Promise<string | undefined> {
    const accepted = this.accepted.get(eventId);
    if (accepted !== undefined) return accepted;
    const writing = this.writing.get(eventId);
    if (writing === undefined) return undefined;
    try {
      await writing.written;
      return writing.correlationId;
    } catch {
      return undefined; // the first delivery failed and was forgotten; this one is written afresh
    }
  }

  /** Follows a first delivery's write: remembered for the window once it succeeded, forgotten if it failed. */
  track(eventId: string, correlationId: string, written: Promise<void>): void {
    if (this.windowMs <= 0) return;
    const entry = { written, correlationId };
    this.writing.set(eventId, entry);
    const settle = (ok: boolean) => {
      if (ok) this.accepted.set(eventId, correlationId);
      if (this.writing.get(eventId) === entry) this.writing.delete(eventId);
    };
    written.then(
      () => settle(true),
      () => settle(false),
    );
  }

  /** Event ids remembered as accepted. */
  get size(): number {
    return this.accepted.size;
  }
}
