import { afterEach, describe, expect, it } from 'vitest';
import type { DownstreamCall } from '../../services/cognigy-simulator/downstream.js';
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

  it('during a downstream outage lets one trial call through per half-open period, dead-letters nothing and fulfills everything after recovery', { timeout: 120_000 }, async () => {
    const consecutiveFailures = 3;
    const halfOpenAfterMs = 2_000;
    const maxInFlight = 4;
    // The outage lasts until the breaker has tried this many times, at least 6 s.
    const trials = 3;
    h = await startHarness({
      BREAKER_CONSECUTIVE_FAILURES: String(consecutiveFailures),
      BREAKER_HALF_OPEN_AFTER_MS: String(halfOpenAfterMs),
      FULFILLMENT_MAX_IN_FLIGHT: String(maxInFlight),
      // A callback fails at most once before the breaker opens and once per trial it makes: 4 of
      // 5 attempts. Without the pause the 5 would be used up within 3.5 s: 0.5 + 1 + 1 + 1 s.
      RETRY_MAX_ATTEMPTS: '5',
      RETRY_BASE_DELAY_MS: '500',
      RETRY_MAX_DELAY_MS: '1000',
      RETRY_JITTER: '0',
    });
    const down = h.simulator.downstream;
    down.setFaults({ outage: true });
    const callbacks = Array.from({ length: 60 }, (_, i) => makeCallback({ sessionId: `outage-session-${i % 30}` }));
    await h.send(callbacks);

    await waitFor(() => h!.service!.breakerState() === 'open', { timeoutMs: 30_000, what: 'the breaker to open' });
    const firstCallAt = down.calls[0]!.at;
    // The breaker opens after the first failure, so a trial comes at least halfOpenAfterMs after the
    // first call; every call before that was made while it was closed.
    const isTrial = (call: DownstreamCall) => call.at >= firstCallAt + halfOpenAfterMs;
    await waitFor(() => down.calls.filter(isTrial).length >= trials, {
      timeoutMs: trials * halfOpenAfterMs + 30_000,
      what: `${trials} trial calls`,
    });
    expect(h.on(h.topics.dlq)).toHaveLength(0);
    expect(await h.results()).toHaveLength(0);
    const outageMs = Date.now() - firstCallAt;
    const callsDuringOutage = [...down.calls];
    down.setFaults({ outage: false });

    // Opening takes consecutiveFailures failures; calls already started when it opens fail as well.
    const opening = callsDuringOutage.filter((call) => !isTrial(call));
    expect(opening.length).toBeGreaterThanOrEqual(consecutiveFailures);
    expect(opening.length).toBeLessThanOrEqual(consecutiveFailures + maxInFlight - 1);
    // One trial per half-open period: each failed trial opens the breaker for another period.
    expect(callsDuringOutage.filter(isTrial).length).toBeLessThanOrEqual(Math.floor(outageMs / halfOpenAfterMs));

    const results = await h.waitForResults(callbacks.map((c) => c.eventId), 90_000);
    for (const callback of callbacks) {
      expect(results.get(callback.eventId)!.map((r) => r.result.route)).toEqual(['FULFILLED']);
    }
    expect(h.on(h.topics.dlq)).toHaveLength(0);
  });
});
