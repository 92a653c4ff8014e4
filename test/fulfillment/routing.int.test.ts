import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CognigyCallback } from '../../shared/contracts.js';
import { Header } from '../../shared/headers.js';
import { makeCallback, startHarness, type Harness } from './support.js';

describe('fulfillment routing against the real broker', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ CONFIDENCE_THRESHOLD: '0.8', CONFIDENCE_THRESHOLDS: 'book_flight=0.95,greeting=0.3' });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('fulfills a 0.94-confidence callback with exactly one downstream call keyed by its event id', async () => {
    const callback = makeCallback({ intent: 'order_status', confidence: 0.94 });
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await h.send([callback], traceparent);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({
      eventId: callback.eventId,
      correlationId: callback.correlationId,
      sessionId: callback.sessionId,
      route: 'FULFILLED',
      ackStatus: 'ACKNOWLEDGED',
      errorDirective: null,
      intent: 'order_status',
      confidence: 0.94,
      threshold: 0.8,
      downstreamStatus: 200,
      attempts: 1,
    });
    expect(JSON.parse(only!.result.response!)).toMatchObject({ status: 'fulfilled', sessionId: callback.sessionId });
    expect(only!.record.key).toBe(callback.sessionId);
    expect(only!.record.headers).toMatchObject({
      [Header.eventId]: callback.eventId,
      [Header.correlationId]: callback.correlationId,
      [Header.receivedAt]: callback.receivedAt,
      [Header.traceparent]: traceparent,
    });
    const calls = h.simulator.downstream.callsFor(callback.eventId);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toEqual({
      sessionId: callback.sessionId,
      intent: 'order_status',
      entities: { orderId: '42' },
      correlationId: callback.correlationId,
    });
  });

  it('answers a 0.5-confidence callback FALLBACK without a downstream call', async () => {
    const callback = makeCallback({ intent: 'order_status', confidence: 0.5 });
    await h.send([callback]);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({ route: 'FALLBACK', ackStatus: 'ACKNOWLEDGED', errorDirective: null, threshold: 0.8, attempts: 0 });
    expect(h.simulator.downstream.callsFor(callback.eventId)).toHaveLength(0);
  });

  it('routes by the per-intent threshold where one is configured', async () => {
    const strict = makeCallback({ intent: 'book_flight', confidence: 0.94 });
    const lenient = makeCallback({ intent: 'greeting', confidence: 0.5 });
    await h.send([strict, lenient]);

    const results = await h.waitForResults([strict.eventId, lenient.eventId]);
    expect(results.get(strict.eventId)![0]!.result).toMatchObject({ route: 'FALLBACK', threshold: 0.95 });
    expect(results.get(lenient.eventId)![0]!.result).toMatchObject({ route: 'FULFILLED', threshold: 0.3 });
    expect(h.simulator.downstream.callsFor(strict.eventId)).toHaveLength(0);
    expect(h.simulator.downstream.callsFor(lenient.eventId)).toHaveLength(1);
  });

  it('sends a callback without confidence (flow execution) downstream', async () => {
    const callback = makeCallback({ eventType: 'flow_execution', intent: null, confidence: null });
    await h.send([callback]);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({ route: 'FULFILLED', threshold: null, confidence: null });
    expect(h.simulator.downstream.callsFor(callback.eventId)).toHaveLength(1);
  });

  /**
   * A callback, then its repeat followed by a later callback of the same session: once the later
   * one has its result, the repeat (ahead of it in the session's order) has been processed too.
   */
  async function sendWithRepeat(sessionId: string): Promise<CognigyCallback> {
    const callback = makeCallback({ sessionId });
    await h.send([callback]);
    await h.waitForResults([callback.eventId]);
    const later = makeCallback({ sessionId });
    await h.send([callback, later]);
    await h.waitForResults([later.eventId]);
    return callback;
  }

  it('does not send a recently fulfilled event id downstream again', async () => {
    const callback = await sendWithRepeat('dedup-session');

    expect(h.simulator.downstream.callsFor(callback.eventId)).toHaveLength(1);
    expect(await h.results(callback.eventId)).toHaveLength(1);
  });

  it('counts outcomes in its metrics and reports the breaker closed', async () => {
    const scrape = async () => (await fetch(`${h.service!.url}/metrics`)).text();
    const outcome = (text: string, name: string) => sample(text, `fulfillment_records_total{outcome="${name}",service="fulfillment"}`);
    const before = await scrape();
    // Outcomes are counted before the result is written, so these are in by the time the results are.
    await sendWithRepeat('metrics-session');
    const after = await scrape();

    expect(outcome(after, 'fulfilled') - outcome(before, 'fulfilled')).toBe(2);
    expect(outcome(after, 'duplicate') - outcome(before, 'duplicate')).toBe(1);
    expect(after).toMatch(/^fulfillment_breaker_state\{service="fulfillment"\} 0$/m);
  });
});

/** One series' value in a Prometheus text exposition; 0 when the series is absent (a counter not yet incremented). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
