import { describe, expect, it } from 'vitest';
import { FirstDeliveries } from '../../services/ingress/first-deliveries.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('FirstDeliveries', () => {
  it('has a repeat wait for the first write and answer with its correlation id', async () => {
    const deliveries = new FirstDeliveries(60_000, 1_000);
    const write = deferred();
    deliveries.track('event-1', 'corr-1', write.promise);
    const repeat = deliveries.earlier('event-1');
    let answered = false;
    void repeat.then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    write.resolve();
    expect(await repeat).toBe('corr-1');
    expect(await deliveries.earlier('event-1')).toBe('corr-1');
    expect(deliveries.size).toBe(1);
  });

  it('forgets a first delivery whose write failed, so the repeat is written afresh', async () => {
    const deliveries = new FirstDeliveries(60_000, 1_000);
    const write = deferred();
    deliveries.track('event-1', 'corr-1', write.promise);
    const repeat = deliveries.earlier('event-1');
    write.reject(new Error('broker down'));
    expect(await repeat).toBeUndefined();
    expect(await deliveries.earlier('event-1')).toBeUndefined();
    expect(deliveries.size).toBe(0);
  });

  it('knows nothing of event ids it never saw, and nothing at all with a window of 0', async () => {
    const deliveries = new FirstDeliveries(0, 1_000);
    deliveries.track('event-1', 'corr-1', Promise.resolve());
    await Promise.resolve();
    expect(await deliveries.earlier('event-1')).toBeUndefined();
    expect(await deliveries.earlier('event-2')).toBeUndefined();
  });
});
