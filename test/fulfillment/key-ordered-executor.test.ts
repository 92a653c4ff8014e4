import { describe, expect, it } from 'vitest';
import { KeyOrderedExecutor } from '../../services/fulfillment/key-ordered-executor.js';

/** A task that runs until released, recording when it started. */
function gate() {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { done, release };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('key-ordered executor', () => {
  it('runs tasks of one key strictly one after another in submission order', async () => {
    const executor = new KeyOrderedExecutor(10);
    const started: string[] = [];
    const gates = [gate(), gate(), gate()];
    gates.forEach((g, i) => executor.submit('a', async () => {
      started.push(`a${i}`);
      await g.done;
    }));
    await tick();
    expect(started).toEqual(['a0']);
    gates[0]!.release();
    await tick();
    expect(started).toEqual(['a0', 'a1']);
    gates[1]!.release();
    gates[2]!.release();
    await executor.idle();
    expect(started).toEqual(['a0', 'a1', 'a2']);
  });

  it('runs different keys concurrently up to maxInFlight, oldest first', async () => {
    const executor = new KeyOrderedExecutor(2);
    const started: string[] = [];
    const gates = new Map(['a', 'b', 'c'].map((k) => [k, gate()]));
    for (const [key, g] of gates) executor.submit(key, async () => {
      started.push(key);
      await g.done;
    });
    await tick();
    expect(started).toEqual(['a', 'b']);
    expect(executor.inFlight).toBe(2);
    expect(executor.size).toBe(3);
    gates.get('b')!.release();
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    gates.get('a')!.release();
    gates.get('c')!.release();
    await executor.idle();
    expect(executor.size).toBe(0);
  });

  it('moves on to a key\'s next task when one fails, reporting the error', async () => {
    const errors: unknown[] = [];
    const executor = new KeyOrderedExecutor(1, (error) => errors.push(error));
    const ran: number[] = [];
    executor.submit('a', async () => {
      throw new Error('boom');
    });
    executor.submit('a', async () => {
      ran.push(2);
    });
    await executor.idle();
    expect(ran).toEqual([2]);
    expect(errors).toHaveLength(1);
  });

  it('tells a waiting producer when room frees below a limit', async () => {
    const executor = new KeyOrderedExecutor(1);
    const g = gate();
    executor.submit('a', () => g.done);
    executor.submit('b', async () => {});
    let roomy = false;
    void executor.whenBelow(2).then(() => (roomy = true));
    await tick();
    expect(roomy).toBe(false);
    g.release();
    await executor.idle();
    expect(roomy).toBe(true);
  });
});
