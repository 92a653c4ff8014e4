import { describe, expect, it } from 'vitest';
import { SessionLanes, type Pending, type SkipReason } from '../../services/session-writer/lanes.js';
import { compareCallbacks, placeOf } from '../../services/session-writer/order.js';
import { Header } from '../../shared/headers.js';

/** Callback `offset` of session `session` (all on partition 0). */
const at = (session: string, offset: number): Pending<string> => ({
  session,
  place: { partition: 0, offset, receivedAt: undefined },
  item: `${session}@${offset}`,
});

function lanes(memory = 100) {
  const skipped: [string, SkipReason][] = [];
  const l = new SessionLanes<string>(memory, (p, why) => skipped.push([p.item, why]));
  return { l, skipped };
}

describe("a session's place in its own order", () => {
  it('is the callback offset within a partition, else the ingress receipt, else a tie', () => {
    const a = placeOf({ [Header.callbackPartition]: '1', [Header.callbackOffset]: '9', [Header.receivedAt]: '2026-01-01T00:00:05Z' });
    const b = placeOf({ [Header.callbackPartition]: '1', [Header.callbackOffset]: '12', [Header.receivedAt]: '2026-01-01T00:00:01Z' });
    const elsewhere = placeOf({ [Header.callbackPartition]: '2', [Header.callbackOffset]: '1', [Header.receivedAt]: '2026-01-01T00:00:03Z' });
    expect(compareCallbacks(a, b)).toBe(-1);
    expect(compareCallbacks(b, a)).toBe(1);
    expect(compareCallbacks(a, elsewhere)).toBe(1);
    expect(compareCallbacks(placeOf({}), a)).toBe(0);
  });
});

describe('session lanes', () => {
  it('writes one result per session at a time, sessions taking turns', () => {
    const { l } = lanes();
    l.offer(at('a', 1));
    l.offer(at('b', 2));
    const first = l.next()!;
    const second = l.next()!;
    expect([first.item, second.item]).toEqual(['a@1', 'b@2']);
    expect(l.next()).toBeUndefined();
    l.offer(at('a', 3));
    expect(l.next()).toBeUndefined(); // a@1 is still being written
    l.done(first, true);
    expect(l.next()!.item).toBe('a@3');
  });

  it('keeps only the newest waiting result of a session', () => {
    const { l, skipped } = lanes();
    const writing = (l.offer(at('s', 1)), l.next()!);
    l.offer(at('s', 5));
    l.offer(at('s', 7));
    l.offer(at('s', 6)); // older than the waiting one
    expect(skipped).toEqual([
      ['s@5', 'superseded'],
      ['s@6', 'superseded'],
    ]);
    l.done(writing, true);
    expect(l.next()!.item).toBe('s@7');
    expect(l.waiting).toBe(0);
  });

  it('never writes an older callback over a newer one, however late its result arrives', () => {
    const { l, skipped } = lanes();
    l.offer(at('s', 9));
    const newer = l.next()!;
    l.offer(at('s', 4)); // an older callback's result, retried, arriving while the newer one is written
    l.done(newer, true);
    l.offer(at('s', 2)); // and another, after the newer one was written
    expect(l.next()).toBeUndefined();
    expect(skipped).toEqual([
      ['s@4', 'superseded'],
      ['s@2', 'stale'],
    ]);
  });

  it('writes a replayed callback again (a tie counts as newer)', () => {
    const { l } = lanes();
    l.offer(at('s', 3));
    l.done(l.next()!, true);
    l.offer(at('s', 3));
    expect(l.next()?.item).toBe('s@3');
  });

  it('does not take a failed write as the last written', () => {
    const { l, skipped } = lanes();
    l.offer(at('s', 8));
    l.done(l.next()!, false); // dead-lettered
    l.offer(at('s', 2));
    expect(l.next()?.item).toBe('s@2');
    expect(skipped).toEqual([]);
  });

  it('forgets the least recently written sessions beyond its memory', () => {
    const { l, skipped } = lanes(2);
    for (const s of ['a', 'b', 'c']) {
      l.offer(at(s, 10));
      l.done(l.next()!, true);
    }
    l.offer(at('a', 1)); // a was forgotten: written, as nothing says it is older
    l.offer(at('c', 1));
    expect(l.next()?.item).toBe('a@1');
    expect(skipped).toEqual([['c@1', 'stale']]);
  });

  it('drops what waits at a rebalance, keeps what is being written', () => {
    const { l } = lanes();
    l.offer(at('a', 1));
    const writing = l.next()!;
    l.offer(at('a', 2));
    l.offer(at('b', 3));
    expect(l.dropWaiting()).toBe(2);
    expect(l.next()).toBeUndefined();
    expect(l.writing).toBe(1);
    l.done(writing, true);
    expect(l.writing).toBe(0);
  });
});
