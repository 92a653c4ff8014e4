import { compareCallbacks, type CallbackPlace } from './order.js';

/** A result waiting for its session's variables to be written. */
export interface Pending<T> {
  session: string;
  place: CallbackPlace;
  item: T;
}

export type SkipReason =
  /** A newer callback of the session is waiting or being written: this one needs no write. */
  | 'superseded'
  /** A newer callback of the session was written already: writing this one would go backwards. */
  | 'stale';

interface Lane<T> {
  waiting: Pending<T> | undefined;
  writing: Pending<T> | undefined;
}

/**
 * Per-session order with only the newest write: a session has at most one write in flight and at
 * most one result waiting behind it. A result arriving for a session replaces the waiting one if
 * its callback is newer (the replaced one is skipped), and is skipped itself if it is older than
 * the waiting one, the one being written, or the last one written ("newer" in the session's own
 * order, compareCallbacks, not in arrival order; a tie counts as newer, so a replayed callback is
 * written again). Sessions take turns in the order they became ready. The last written place is
 * remembered for `memory` sessions (least recently written forgotten first). No I/O.
 */
export class SessionLanes<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  /** Sessions with a waiting result and nothing in flight, in the order they became ready. */
  private readonly ready = new Set<string>();
  private readonly written = new Map<string, CallbackPlace>();
  private waitingCount = 0;
  private writingCount = 0;

  constructor(
    private readonly memory: number,
    private readonly skip: (pending: Pending<T>, why: SkipReason) => void,
  ) {}

  offer(pending: Pending<T>): void {
    const last = this.written.get(pending.session);
    if (last !== undefined && compareCallbacks(pending.place, last) < 0) return this.skip(pending, 'stale');
    let lane = this.lanes.get(pending.session);
    if (lane === undefined) this.lanes.set(pending.session, (lane = { waiting: undefined, writing: undefined }));
    if (lane.writing !== undefined && compareCallbacks(pending.place, lane.writing.place) < 0) return this.skip(pending, 'superseded');
    const waiting = lane.waiting;
    if (waiting !== undefined) {
      if (compareCallbacks(pending.place, waiting.place) < 0) return this.skip(pending, 'superseded');
      lane.waiting = pending;
      this.skip(waiting, 'superseded');
      return;
    }
    lane.waiting = pending;
    this.waitingCount += 1;
    if (lane.writing === undefined) this.ready.add(pending.session);
  }

  /** The next result to write, now counted as in flight; undefined when no session is ready. */
  next(): Pending<T> | undefined {
    for (const session of this.ready) {
      this.ready.delete(session);
      const lane = this.lanes.get(session);
      const pending = lane?.waiting;
      if (lane === undefined || pending === undefined) continue;
      lane.waiting = undefined;
      lane.writing = pending;
      this.waitingCount -= 1;
      this.writingCount += 1;
      return pending;
    }
    return undefined;
  }

  /** The write of `pending` ended: `written` when Cognigy took it (its place becomes the session's last). */
  done(pending: Pending<T>, written: boolean): void {
    const lane = this.lanes.get(pending.session);
    if (lane?.writing !== pending) return;
    lane.writing = undefined;
    this.writingCount -= 1;
    if (written) this.remember(pending);
    // What waits is never older than what was being written (offer skips those), so it goes next.
    if (lane.waiting !== undefined) this.ready.add(pending.session);
    else this.lanes.delete(pending.session);
  }

  /**
   * Forgets every waiting result (a rebalance: they are delivered again from the last commit);
   * writes in flight finish. Returns how many were dropped.
   */
  dropWaiting(): number {
    const dropped = this.waitingCount;
    for (const [session, lane] of this.lanes) {
      lane.waiting = undefined;
      if (lane.writing === undefined) this.lanes.delete(session);
    }
    this.ready.clear();
    this.waitingCount = 0;
    return dropped;
  }

  get waiting(): number {
    return this.waitingCount;
  }

  get writing(): number {
    return this.writingCount;
  }

  private remember(pending: Pending<T>): void {
    const last = this.written.get(pending.session);
    if (last !== undefined && compareCallbacks(pending.place, last) < 0) return;
    this.written.delete(pending.session);
    this.written.set(pending.session, pending.place);
    if (this.written.size > this.memory) {
      const oldest = this.written.keys().next().value;
      if (oldest !== undefined) this.written.delete(oldest);
    }
  }
}
