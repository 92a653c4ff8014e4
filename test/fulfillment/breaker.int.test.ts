import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { makeCallback, startHarness, type Harness } from './support.js';

describe('fulfillment circuit breaker against the real broker', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('after 3 consecutive failures the downstream sees no call until the breaker half-opens', { timeout: 90_000 }, async () => {
    const halfOpenAfterMs = 3_000;
    h = await startHarness({
      BREAKER_CONSECUTIVE_FAILURES: '3',
      BREAKER_HALF_OPEN_AFTER_MS: String(halfOpenAfterMs),
      RETRY_MAX_ATTEMPTS: '4',
      RETRY_BASE_DELAY_MS: '200',
    });
    const down = h.simulator.downstream;
    down.setFaults({ outage: true });
    // One session: its callbacks are processed one at a time, so the calls are consecutive.
    const callbacks = Array.from({ length: 8 }, () => makeCallback({ sessionId: 'breaker-session' }));
    await h.send(callbacks);

    await waitFor(() => down.calls.length >= 4, { timeoutMs: 30_000, what: 'the first call after the breaker opened' });
    const [, , third, fourth] = down.calls;
    expect(fourth!.at - third!.at).toBeGreaterThanOrEqual(halfOpenAfterMs - 10);
    expect(h.service!.breakerState()).not.toBe('closed');

    down.setFaults({ outage: false });
    const results = await h.waitForResults(callbacks.map((c) => c.eventId), 60_000);
    expect([...results.values()].map((rs) => rs[0]!.result.route)).toEqual(callbacks.map(() => 'FULFILLED'));
    expect(h.service!.breakerState()).toBe('closed');
  });

  it('during a 40 s downstream outage dead-letters nothing and fulfills everything after recovery', { timeout: 180_000 }, async () => {
    h = await startHarness({
      BREAKER_CONSECUTIVE_FAILURES: '3',
      BREAKER_HALF_OPEN_AFTER_MS: '15000',
      // Without the pause these would be used up within 3.5 s of the outage: 0.5 + 1 + 2 s.
      RETRY_MAX_ATTEMPTS: '4',
      RETRY_BASE_DELAY_MS: '500',
      RETRY_JITTER: '0',
    });
    const down = h.simulator.downstream;
    const outageStart = Date.now();
    down.setFaults({ outage: true });
    const callbacks = Array.from({ length: 60 }, (_, i) => makeCallback({ sessionId: `outage-session-${i % 30}` }));
    await h.send(callbacks);

    await waitFor(() => h!.service!.breakerState() === 'open', { timeoutMs: 30_000, what: 'the breaker to open' });
    // The outage lasts 40 s whatever happens meanwhile.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageStart + 40_000 - Date.now())));
    const callsDuringOutage = down.calls.length;
    expect(h.on(h.topics.dlq)).toHaveLength(0);
    expect(await h.results()).toHaveLength(0);
    // Without the breaker every callback would have been called 4 times (240 calls).
    expect(callsDuringOutage).toBeLessThanOrEqual(callbacks.length);

    down.setFaults({ outage: false });
    const results = await h.waitForResults(callbacks.map((c) => c.eventId), 90_000);
    for (const callback of callbacks) {
      expect(results.get(callback.eventId)!.map((r) => r.result.route)).toEqual(['FULFILLED']);
    }
    expect(h.on(h.topics.dlq)).toHaveLength(0);
  });
});
