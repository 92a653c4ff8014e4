import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '../../shared/metrics.js';
import { eventTypeLabel, KNOWN_EVENT_TYPES } from './event-types.js';

export type Outcome =
  | 'accepted'
  | 'duplicate'
  | 'unauthorized'
  | 'forbidden'
  | 'invalid'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'overloaded'
  | 'aborted'
  | 'error';

export function ingressMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'ingress_requests_total',
      help: 'Webhook requests by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'ingress_request_duration_seconds',
      help: 'Time from request start to answer, by outcome',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'ingress_produce_batch_size',
      help: 'Records per coalesced produce request',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    produceLatency: new Histogram({
      name: 'ingress_produce_duration_seconds',
      help: 'Time from handing a batch to the producer to the broker acknowledgment',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    callbacks: new Counter({
      name: 'ingress_callbacks_total',
      help: 'Accepted callbacks by canonical event type (unknown types as other)',
      labelNames: ['event_type'] as const,
      registers: [registry],
    }),
    producersReplaced: new Counter({
      name: 'ingress_producers_replaced_total',
      help: 'Producers replaced after a failed send, so that no later record reuses their sequence numbers',
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'ingress_in_flight', help: 'Requests being handled', registers: [registry] }),
  };
}

export type IngressMetrics = ReturnType<typeof ingressMetrics>;

/** Counts and times one answer; the labelled children are looked up once per outcome, not per request. */
export function outcomeMetrics(metrics: IngressMetrics): (outcome: Outcome, seconds: number) => void {
  const children = new Map<Outcome, { count: () => void; time: (seconds: number) => void }>();
  return (outcome, seconds) => {
    let child = children.get(outcome);
    if (!child) {
      const counter = metrics.requests.labels({ outcome });
      const histogram = metrics.latency.labels({ outcome });
      child = { count: () => counter.inc(), time: (s) => histogram.observe(s) };
      children.set(outcome, child);
    }
    child.count();
    child.time(seconds);
  };
}

/** Counts one accepted callback by event type; one labelled child per known type, looked up once. */
export function eventTypeCounter(metrics: IngressMetrics): (eventType: string) => void {
  const children = new Map([...KNOWN_EVENT_TYPES, 'other' as const].map((label) => [label, metrics.callbacks.labels({ event_type: label })]));
  return (eventType) => children.get(eventTypeLabel(eventType))!.inc();
}
