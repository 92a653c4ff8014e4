import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../services/ingress/coalescer.js';

describe('Coalescer', () => {
  it('sends submissions that arrive during a send together in the next batch', async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const coalescer = new Coalescer<number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
      },
      { lingerMs: 0, maxBatch: 100 },
    );
    const first = coalescer.submit(1);
    const rest = [2, 3, 4].map((n) => coalescer.submit(n));
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails exactly the submissions of a failed batch', async () => {
    let calls = 0;
    const coalescer = new Coalescer<number>(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('broker down');
      },
      { lingerMs: 1, maxBatch: 2 },
    );
    const results = await Promise.allSettled([coalescer.submit(1), coalescer.submit(2), coalescer.submit(3)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });

  it('never sends more than maxBatch at once', async () => {
    const sizes: number[] = [];
    const coalescer = new Coalescer<number>(async (items) => void sizes.push(items.length), { lingerMs: 5, maxBatch: 3 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => coalescer.submit(i)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
  });
});
