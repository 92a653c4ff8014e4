import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '../../shared/metrics.js';
import type { BreakerState, DownstreamClient } from './downstream-client.js';

/** Fulfillment's Prometheus metrics (consumer lag comes from trackConsumerLag). */
export function fulfillmentMetrics(registry: Registry, buffered: () => number = () => 0) {
  const registers = [registry];
  return {
    outcomes: new Counter({
      name: 'fulfillment_records_total',
      help: 'Records processed, by outcome (fulfilled, fallback, retried, dead-lettered, duplicate)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    results: new Counter({
      name: 'fulfillment_results_total',
      help: 'Definitive results written, by route and ack status',
      labelNames: ['route', 'ack_status'] as const,
      registers,
    }),
    retries: new Counter({
      name: 'fulfillment_retries_total',
      help: 'Records sent to a retry tier',
      labelNames: ['tier'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'fulfillment_dead_letters_total',
      help: 'Records sent to the DLQ, by dlq-reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    downstreamLatency: new Histogram({
      name: 'fulfillment_downstream_call_seconds',
      help: 'Downstream call duration, by outcome (ok, timeout, unavailable, rejected)',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    endToEndLatency: new Histogram({
      name: 'fulfillment_result_latency_seconds',
      help: 'From ingress receipt (receivedAt) to the result, retries included',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    breakerState: new Gauge({
      name: 'fulfillment_breaker_state',
      help: 'Downstream circuit breaker: 0 closed, 1 half-open, 2 open',
      registers,
    }),
    breakerTrialAt: new Gauge({
      name: 'fulfillment_breaker_half_open_at_seconds',
      help: 'When the open breaker lets a trial call through (Unix time); 0 unless open',
      registers,
    }),
    inFlight: new Gauge({ name: 'fulfillment_in_flight', help: 'Records started and not finished (calling, waiting for a call slot or the breaker, writing)', registers }),
    buffered: new Gauge({
      name: 'fulfillment_buffered',
      help: 'Records taken from Kafka and not finished (running or waiting for their key)',
      registers,
      collect() {
        this.set(buffered());
      },
    }),
    commits: new Counter({
      name: 'fulfillment_commits_total',
      help: 'Offset commits (plain or transactional), by result',
      labelNames: ['kind', 'result'] as const,
      registers,
    }),
  };
}

export type FulfillmentMetrics = ReturnType<typeof fulfillmentMetrics>;

const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Call latencies and the breaker state of the downstream client, from its events. */
export function watchDownstream(metrics: FulfillmentMetrics, downstream: DownstreamClient): void {
  downstream.onCall((outcome, seconds) => metrics.downstreamLatency.observe({ outcome }, seconds));
  const show = (state: BreakerState) => {
    metrics.breakerState.set(BREAKER_GAUGE[state]);
    metrics.breakerTrialAt.set((downstream.trialAt ?? 0) / 1000);
  };
  downstream.onStateChange(show);
  show(downstream.state);
}
