import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { changelogRecord, DedupState, REPLAY_HEADER, resetMarkerRecord } from '../../shared/stage/dedup-store.js';

const state = (windowMs = 60_000) => new DedupState({ topic: 'dedup', windowMs, maxEntries: 1_000, logger: pino({ level: 'silent' }) });
const apply = (s: DedupState, record: ReturnType<typeof changelogRecord>, timestamp = Date.now()) =>
  s.apply(record.partition ?? 0, String(record.key), record.value, record.headers['dedup-reset'] !== undefined, timestamp);

describe('dedup state', () => {
  it('knows a held key at once, keeps it once confirmed, and forgets it when its owner releases it unwritten', () => {
    const s = state();
    const lane = {};
    const record = s.hold(2, 'evt-1', 1, lane);
    expect(record).toEqual({ topic: 'dedup', partition: 2, key: 'evt-1', value: Buffer.from('1'), headers: {} });
    expect(s.seen(2, 'evt-1')).toBe(1);
    expect(s.seen(1, 'evt-1')).toBeUndefined();

    s.hold(2, 'evt-2', 1, lane);
    s.confirm([{ partition: 2, key: 'evt-1' }]);
    s.release(lane);
    expect(s.seen(2, 'evt-1')).toBe(1);
    expect(s.seen(2, 'evt-2')).toBeUndefined();
  });

  it('restores from changelog records: the latest value wins, tombstones delete, records older than the window are skipped', () => {
    const s = state(60_000);
    apply(s, changelogRecord('dedup', 0, 'a', 1));
    apply(s, changelogRecord('dedup', 0, 'a', 3));
    apply(s, changelogRecord('dedup', 0, 'b', 1));
    apply(s, { ...changelogRecord('dedup', 0, 'b', 1), value: null });
    apply(s, changelogRecord('dedup', 0, 'old', 1), Date.now() - 61_000);
    expect([s.seen(0, 'a'), s.seen(0, 'b'), s.seen(0, 'old')]).toEqual([3, undefined, undefined]);
  });

  it('forgets a partition on a reset marker and tells which records the replay covers', () => {
    const s = state();
    apply(s, changelogRecord('dedup', 1, 'a', 1));
    apply(s, changelogRecord('dedup', 0, 'b', 1));
    apply(s, resetMarkerRecord('dedup', 1, { replayId: 'r-1', replayedBelow: { callbacks: 10 } }));
    expect(s.seen(1, 'a')).toBeUndefined();
    expect(s.seen(0, 'b')).toBe(1);
    const at = (topic: string, partition: number, offset: number, headers: Record<string, string> = {}) => ({ topic, partition, offset, headers });
    expect(s.replayOf(at('callbacks', 1, 9))).toBe('r-1');
    expect(s.replayOf(at('callbacks', 1, 10))).toBeUndefined();
    expect(s.replayOf(at('callbacks', 0, 3))).toBeUndefined();
    expect(s.replayOf(at('retry.1', 0, 3, { [REPLAY_HEADER]: 'r-0' }))).toBe('r-0');
  });
});
