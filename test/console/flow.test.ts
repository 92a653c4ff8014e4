import { describe, expect, it } from 'vitest';
import { flowView, type MetricJson, type MetricsSample } from '../../services/console/flow.js';

const metric = (name: string, ...values: [number, Record<string, string>?][]): MetricJson => ({
  name,
  values: values.map(([value, labels]) => ({ value, labels: labels ?? {} })),
});

function sample(at: number, ...sources: (MetricJson[] | null)[]): MetricsSample {
  return { at, sources: sources.map((metrics, i) => ({ url: `http://replica-${i}`, metrics, ...(metrics === null ? { error: 'connection refused' } : {}) })) };
}

describe('the flow view', () => {
  it('sums each counter over every replica and gives its rate over the interval', () => {
    const before = sample(
      0,
      [metric('ingress_requests_total', [100, { outcome: 'accepted' }], [7, { outcome: 'unauthorized' }])],
      [metric('ingress_requests_total', [50, { outcome: 'accepted' }])],
    );
    const after = sample(
      2_000,
      [metric('ingress_requests_total', [140, { outcome: 'accepted' }], [9, { outcome: 'unauthorized' }])],
      [metric('ingress_requests_total', [70, { outcome: 'accepted' }])],
    );
    const view = flowView(after, before, []);
    expect(view.received).toEqual({ total: 210, perSecond: 30 });
    expect(flowView(before, undefined, []).received).toEqual({ total: 150, perSecond: null });
  });

  it('splits fulfilled by route, retried by tier and dead-lettered by reason over every stage', () => {
    const counters = (scale: number) => [
      metric('fulfillment_results_total', [10 * scale, { route: 'FULFILLED' }], [4 * scale, { route: 'FALLBACK' }]),
      metric('fulfillment_retries_total', [3 * scale, { tier: '1' }], [scale, { tier: '2' }]),
      metric('fulfillment_dead_letters_total', [2 * scale, { reason: 'retries-exhausted' }]),
      metric('ack_dead_lettered_total', [scale, { reason: 'invalid-ack-item' }]),
      metric('session_writer_dead_lettered_total', [scale, { reason: 'retries-exhausted' }]),
    ];
    const view = flowView(sample(1_000, counters(2)), sample(0, counters(1)), []);
    expect(view.fulfilled).toEqual({ FALLBACK: { total: 8, perSecond: 4 }, FULFILLED: { total: 20, perSecond: 10 } });
    expect(view.retried).toEqual({ '1': { total: 6, perSecond: 3 }, '2': { total: 2, perSecond: 1 } });
    expect(view.deadLettered).toEqual({ 'invalid-ack-item': { total: 2, perSecond: 1 }, 'retries-exhausted': { total: 6, perSecond: 3 } });
  });

  it('gives no rate for a counter that went down: a service restarted and counts again from zero', () => {
    const view = flowView(sample(1_000, [metric('ack_items_processed_total', [5])]), sample(0, [metric('ack_items_processed_total', [900])]), []);
    expect(view.acknowledged).toEqual({ total: 5, perSecond: null });
  });

  it('reports the worst breaker of the replicas, and when an open one half-opens', () => {
    const trialAt = Date.UTC(2026, 11, 2, 10, 0, 30) / 1000;
    const closed = [metric('fulfillment_breaker_state', [0])];
    const open = [metric('fulfillment_breaker_state', [2]), metric('fulfillment_breaker_half_open_at_seconds', [trialAt])];
    expect(flowView(sample(0, closed, open), undefined, []).breaker).toEqual({ state: 'open', halfOpenAt: '2026-12-02T10:00:30.000Z' });
    expect(flowView(sample(0, closed, closed), undefined, []).breaker).toEqual({ state: 'closed', halfOpenAt: null });
    expect(flowView(sample(0, [metric('fulfillment_breaker_state', [1])], closed), undefined, []).breaker.state).toBe('half-open');
    expect(flowView(sample(0, []), undefined, []).breaker.state).toBe('unknown');
  });

  it('names a source that did not answer and counts the others', () => {
    const view = flowView(sample(0, [metric('ingress_requests_total', [3, { outcome: 'accepted' }])], null), undefined, []);
    expect(view.sources).toEqual([
      { url: 'http://replica-0', ok: true },
      { url: 'http://replica-1', ok: false, error: 'connection refused' },
    ]);
    expect(view.received.total).toBe(3);
  });
});
