/**
 * The flow view from the services' metrics: a pure function of two samples (for the rates), the
 * consumer lag and the time. Every replica of every service is one source; counters are summed
 * over them, the breaker is the worst any replica reports.
 */
import type { BreakerState, FlowView, LagRow, Rate } from './views.js';

/** One metric as prom-client's getMetricsAsJSON() gives it. */
export interface MetricJson {
  name: string;
  values: { value: number; labels: Record<string, string | number> }[];
}

/** What every source answered at one moment; a source that did not answer has no metrics. */
export interface MetricsSample {
  at: number;
  sources: { url: string; metrics: MetricJson[] | null; error?: string }[];
}

type Labels = Record<string, string>;

/** Sum of a metric's values over every source, those whose labels match. */
export function sum(sample: MetricsSample, name: string, labels: Labels = {}): number {
  let total = 0;
  for (const source of sample.sources) {
    for (const metric of source.metrics ?? []) {
      if (metric.name !== name) continue;
      for (const v of metric.values) {
        if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) total += v.value;
      }
    }
  }
  return total;
}

/** Sums split by one label's values. */
export function byLabel(sample: MetricsSample, name: string, label: string, labels: Labels = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const source of sample.sources) {
    for (const metric of source.metrics ?? []) {
      if (metric.name !== name) continue;
      for (const v of metric.values) {
        if (!Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) continue;
        const key = String(v.labels[label] ?? '-');
        out.set(key, (out.get(key) ?? 0) + v.value);
      }
    }
  }
  return out;
}

/**
 * A rate over the interval. A total that went down (a service restarted and its counters began
 * again) has no rate for that interval rather than a negative one.
 */
export function rate(now: number, before: number | undefined, seconds: number | undefined): Rate {
  if (before === undefined || seconds === undefined || seconds <= 0 || now < before) return { total: now, perSecond: null };
  return { total: now, perSecond: (now - before) / seconds };
}

const BREAKER: Record<number, BreakerState> = { 0: 'closed', 1: 'half-open', 2: 'open' };
const SEVERITY: BreakerState[] = ['unknown', 'closed', 'half-open', 'open'];

function breakerOf(sample: MetricsSample): FlowView['breaker'] {
  let state: BreakerState = 'unknown';
  let trialAt = 0;
  for (const source of sample.sources) {
    for (const metric of source.metrics ?? []) {
      for (const v of metric.values) {
        if (metric.name === 'fulfillment_breaker_state') {
          const s = BREAKER[v.value] ?? 'unknown';
          if (SEVERITY.indexOf(s) > SEVERITY.indexOf(state)) state = s;
        } else if (metric.name === 'fulfillment_breaker_half_open_at_seconds' && v.value > 0) {
          trialAt = trialAt === 0 ? v.value : Math.min(trialAt, v.value);
        }
      }
    }
  }
  return { state, halfOpenAt: state === 'open' && trialAt > 0 ? new Date(trialAt * 1000).toISOString() : null };
}

/** Counters the view shows, one place to read their names from. */
const COUNTERS = {
  received: ['ingress_requests_total', { outcome: 'accepted' }],
  acknowledged: ['ack_items_processed_total', {}],
  batches: ['ack_batches_total', { outcome: 'accepted' }],
  sessionWrites: ['session_writer_calls_total', { answer: 'ok' }],
} as const satisfies Record<string, readonly [string, Labels]>;

const DEAD_LETTER_COUNTERS = ['fulfillment_dead_letters_total', 'ack_dead_lettered_total', 'session_writer_dead_lettered_total'];

export function flowView(current: MetricsSample, previous: MetricsSample | undefined, lag: LagRow[]): FlowView {
  const seconds = previous === undefined ? undefined : (current.at - previous.at) / 1000;
  const counter = ([name, labels]: readonly [string, Labels]) =>
    rate(sum(current, name, labels), previous && sum(previous, name, labels), seconds);
  const split = (names: string[], label: string, labels: Labels = {}): Record<string, Rate> => {
    const merged = (sample: MetricsSample) => {
      const out = new Map<string, number>();
      for (const name of names) for (const [k, v] of byLabel(sample, name, label, labels)) out.set(k, (out.get(k) ?? 0) + v);
      return out;
    };
    const now = merged(current);
    const before = previous && merged(previous);
    return Object.fromEntries([...now].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, rate(v, before?.get(k), seconds)]));
  };
  return {
    at: new Date(current.at).toISOString(),
    received: counter(COUNTERS.received),
    fulfilled: split(['fulfillment_results_total'], 'route'),
    retried: split(['fulfillment_retries_total'], 'tier'),
    deadLettered: split(DEAD_LETTER_COUNTERS, 'reason'),
    acknowledged: counter(COUNTERS.acknowledged),
    batches: counter(COUNTERS.batches),
    sessionWrites: counter(COUNTERS.sessionWrites),
    lag,
    breaker: breakerOf(current),
    sources: current.sources.map((s) => ({ url: s.url, ok: s.metrics !== null, ...(s.error === undefined ? {} : { error: s.error }) })),
  };
}
