import { describe, expect, it } from 'vitest';
import { RecentEvents } from '../../services/fulfillment/recent-events.js';

describe('recently fulfilled event ids', () => {
  it('remembers an event id for the window and forgets it after', () => {
    let now = 0;
    const recent = new RecentEvents(1_000, 10, () => now);
    recent.add('a');
    now = 999;
    expect(recent.has('a')).toBe(true);
    now = 1_000;
    expect(recent.has('a')).toBe(false);
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const recent = new RecentEvents(60_000, 2, () => 0);
    recent.add('a');
    recent.add('b');
    recent.add('c');
    expect([recent.has('a'), recent.has('b'), recent.has('c')]).toEqual([false, true, true]);
    expect(recent.size).toBe(2);
  });

  it('remembers nothing with a zero window', () => {
    const recent = new RecentEvents(0, 10);
    recent.add('a');
    expect(recent.has('a')).toBe(false);
  });
});
