import { describe, expect, it } from 'vitest';
import { OffsetProgress } from '../../services/ack-aggregator/progress.js';

describe('OffsetProgress', () => {
  it('commits only past the longest finished prefix', () => {
    const progress = new OffsetProgress();
    progress.track('t', 0, [10, 11, 12, 13]);
    progress.done('t', 0, 12);
    expect(progress.commitsDue()).toEqual([]);
    progress.done('t', 0, 10);
    expect(progress.commitsDue()).toEqual([{ topic: 't', partition: 0, offset: 11 }]);
    progress.done('t', 0, 11);
    expect(progress.commitsDue()).toEqual([{ topic: 't', partition: 0, offset: 13 }]);
  });

  it('does not report a commit again once it is done', () => {
    const progress = new OffsetProgress();
    progress.track('t', 0, [0, 1]);
    progress.done('t', 0, 0);
    progress.done('t', 0, 1);
    progress.committed('t', 0, 2);
    expect(progress.commitsDue()).toEqual([]);
  });

  it('follows delivered offsets across gaps and a trailing transaction marker', () => {
    const progress = new OffsetProgress();
    progress.track('t', 1, [3, 5, 8], 9);
    progress.done('t', 1, 3);
    progress.done('t', 1, 5);
    expect(progress.commitsDue()).toEqual([{ topic: 't', partition: 1, offset: 6 }]);
    progress.done('t', 1, 8);
    expect(progress.commitsDue()).toEqual([{ topic: 't', partition: 1, offset: 10 }]);
  });

  it('keeps partitions apart and counts what is outstanding', () => {
    const progress = new OffsetProgress();
    progress.track('t', 0, [0, 1]);
    progress.track('t', 1, [0]);
    progress.done('t', 1, 0);
    expect(progress.outstanding).toBe(2);
    expect(progress.commitsDue()).toEqual([{ topic: 't', partition: 1, offset: 1 }]);
  });

  it('ignores offsets it never delivered (a previous assignment)', () => {
    const progress = new OffsetProgress();
    progress.track('t', 0, [5]);
    progress.done('t', 0, 4);
    progress.done('t', 2, 0);
    expect(progress.commitsDue()).toEqual([]);
    expect(progress.outstanding).toBe(1);
  });

  it('knows where an assignment began and how far it is finished', () => {
    const progress = new OffsetProgress();
    progress.track('t', 0, [40, 41]);
    expect(progress.firstOffset('t', 0)).toBe(40);
    expect(progress.safeOffset('t', 0)).toBe(40);
    progress.done('t', 0, 40);
    expect(progress.safeOffset('t', 0)).toBe(41);
    expect(progress.safeOffset('t', 3)).toBeUndefined();
  });
});
