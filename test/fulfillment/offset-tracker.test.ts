import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../services/fulfillment/offset-tracker.js';

describe('offset tracker', () => {
  it('commits nothing while the lowest accepted record is unfinished, however many after it finished', () => {
    const tracker = new OffsetTracker<string>();
    for (const offset of ['10', '11', '12']) tracker.accept(offset);
    tracker.finish('11', 'b');
    tracker.finish('12', 'c');
    expect(tracker.takeFinishedPrefix()).toBeUndefined();
    expect(tracker.unfinished).toBe(1);
  });

  it('commits below the lowest unfinished record and hands out the finished payloads in offset order', () => {
    const tracker = new OffsetTracker<string>();
    for (const offset of ['10', '11', '12', '13']) tracker.accept(offset);
    tracker.finish('12', 'c');
    tracker.finish('10', 'a');
    tracker.finish('11', 'b');
    expect(tracker.takeFinishedPrefix()).toEqual({ payloads: ['a', 'b', 'c'], nextOffset: '13' });
    expect(tracker.takeFinishedPrefix()).toBeUndefined();
    tracker.finish('13', 'd');
    expect(tracker.takeFinishedPrefix()).toEqual({ payloads: ['d'], nextOffset: '14' });
  });

  it('handles gaps in offsets (compaction, transaction markers)', () => {
    const tracker = new OffsetTracker();
    tracker.accept('5');
    tracker.accept('9');
    tracker.finish('5');
    expect(tracker.takeFinishedPrefix()?.nextOffset).toBe('9');
  });

  it('knows which offsets it has seen, and refuses one out of order', () => {
    const tracker = new OffsetTracker();
    tracker.accept('7');
    expect(tracker.seen('6')).toBe(true);
    expect(tracker.seen('7')).toBe(true);
    expect(tracker.seen('8')).toBe(false);
    expect(() => tracker.accept('7')).toThrow();
  });

  it('works beyond the safe integer range', () => {
    const tracker = new OffsetTracker();
    tracker.accept('9007199254740993');
    tracker.finish('9007199254740993');
    expect(tracker.takeFinishedPrefix()?.nextOffset).toBe('9007199254740994');
  });
});
