import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../../shared/dedup-window.js';

describe('DedupWindow', () => {
  it('remembers a key for the window and forgets it after', () => {
    let now = 0;
    const window = new DedupWindow<string>(1_000, 100, () => now);
    window.set('a', 'first');
    now = 999;
    expect(window.get('a')).toBe('first');
    now = 1_000;
    expect(window.get('a')).toBeUndefined();
    expect(window.size).toBe(0);
  });

  it('remembers every key for at least the window and at most a sixteenth longer', () => {
    let now = 0;
    const window = new DedupWindow<number>(16_000, 1_000_000, () => now);
    for (let t = 0; t < 64_000; t += 250) {
      now = t;
      window.set(`k${t}`, t);
    }
    now = 64_000;
    for (let t = 0; t < 64_000; t += 250) {
      const age = now - t;
      if (age < 16_000) expect(window.get(`k${t}`), `key set ${age} ms ago`).toBe(t);
      if (age >= 17_000) expect(window.get(`k${t}`), `key set ${age} ms ago`).toBeUndefined();
    }
    expect(window.size).toBeLessThanOrEqual(17_000 / 250);
  });

  it('evicts the oldest entries beyond the size bound', () => {
    const window = new DedupWindow<number>(60_000, 2, () => 0);
    window.set('a', 1);
    window.set('b', 2);
    window.set('c', 3);
    expect(window.get('a')).toBeUndefined();
    expect(window.get('c')).toBe(3);
  });

  it('keeps a large window within its bound, dropping the oldest keys first', () => {
    const window = new DedupWindow<number>(60_000, 100_000, () => 0);
    for (let i = 0; i < 250_000; i += 1) window.set(`k${i}`, i);
    expect(window.size).toBeLessThanOrEqual(100_000);
    expect(window.size).toBeGreaterThanOrEqual(100_000 - 100_000 / 16);
    expect(window.get('k0')).toBeUndefined();
    expect(window.get('k249999')).toBe(249_999);
    expect(window.get('k160000')).toBe(160_000);
  });

  it('forgets a deleted key, and a key set again lives from its newest set', () => {
    let now = 0;
    const window = new DedupWindow<string>(1_000, 100, () => now);
    window.set('a', 'first');
    window.set('b', 'other');
    window.delete('a');
    expect(window.get('a')).toBeUndefined();
    expect(window.size).toBe(1);
    window.set('a', 'second');
    now = 900;
    window.set('a', 'third');
    now = 1_500;
    expect(window.get('b')).toBeUndefined();
    expect(window.get('a')).toBe('third');
    expect(window.size).toBe(1);
  });

  it('counts a key set twice in a row once', () => {
    let now = 0;
    const window = new DedupWindow<number>(1_000, 100, () => now);
    window.set('a', 1);
    window.set('a', 2);
    expect(window.get('a')).toBe(2);
    expect(window.size).toBe(1);
    now = 1_000;
    expect(window.get('a')).toBeUndefined();
    expect(window.size).toBe(0);
  });

  it('remembers nothing when the window is 0', () => {
    const window = new DedupWindow<string>(0, 100);
    window.set('a', 'first');
    expect(window.get('a')).toBeUndefined();
    expect(window.has('a')).toBe(false);
  });
});
