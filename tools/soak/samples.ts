/**
 * What the soak samples every few seconds, and what is read from the samples afterwards: memory
 * trend, worst event-loop and consumer lag, the CSV and the chart's panels. Pure.
 */
import type { ChartSpec, Marker, Panel, Series, Span } from './chart.js';

export const PIPELINE_SERVICES = ['ingress', 'fulfillment', 'ack-aggregator'] as const;
export type PipelineService = (typeof PIPELINE_SERVICES)[number];
export type ServiceName = PipelineService | 'simulator';
/** The consumer groups whose lag is sampled, by the service that consumes. */
export const CONSUMING_SERVICES = ['fulfillment', 'ack-aggregator'] as const;

export interface ProcessReading {
  /** `<service>#<n>`, n counting every process of that service started in the run. */
  id: string;
  service: ServiceName;
  pid: number;
  rssMiB: number | null;
  loopP99Ms: number | null;
  loopMaxMs: number | null;
}

export interface Sample {
  /** Seconds since the load started. */
  elapsedS: number;
  phase: 'load' | 'drain';
  processes: ProcessReading[];
  /** Records not yet committed, per consuming service's group (the highest any replica reports). */
  consumerLag: Record<string, number | null>;
  throughput: { acceptedPerS: number; resultsPerS: number; acksPerS: number };
  totals: { accepted: number; results: number; acknowledged: number };
}

export interface MemoryRow {
  service: PipelineService;
  /** Mean RSS over the second minute of load, and over its last minute (MiB). */
  minute2MiB: number | null;
  lastMinuteMiB: number | null;
  changePct: number | null;
  /** The last minute's mean within FLAT_TOLERANCE of the second minute's. */
  flat: boolean | null;
  /** Processes both means are taken over: those alive in both windows (a replacement starts afresh). */
  processes: string[];
}

export const FLAT_TOLERANCE = 0.1;

/** Per service, RSS in minute 2 of the load against its last minute. */
export function memoryTrend(samples: readonly Sample[], loadSeconds: number): MemoryRow[] {
  const inWindow = (from: number, to: number) => samples.filter((s) => s.phase === 'load' && s.elapsedS >= from && s.elapsedS < to);
  // A load shorter than two minutes has no second minute to compare with.
  const second = loadSeconds >= 120 ? inWindow(60, 120) : [];
  const last = inWindow(Math.max(0, loadSeconds - 60), loadSeconds + 0.001);
  return PIPELINE_SERVICES.map((service) => {
    const idsIn = (window: readonly Sample[]) => new Set(window.flatMap((s) => s.processes.filter((p) => p.service === service && p.rssMiB !== null).map((p) => p.id)));
    const inSecond = idsIn(second);
    const both = [...idsIn(last)].filter((id) => inSecond.has(id));
    const chosen = both.length > 0 ? new Set(both) : undefined;
    const minute2MiB = meanRss(second, service, chosen);
    const lastMinuteMiB = meanRss(last, service, chosen);
    const changePct = minute2MiB !== null && lastMinuteMiB !== null && minute2MiB > 0 ? ((lastMinuteMiB - minute2MiB) / minute2MiB) * 100 : null;
    return {
      service,
      minute2MiB,
      lastMinuteMiB,
      changePct,
      flat: changePct === null ? null : Math.abs(changePct) <= FLAT_TOLERANCE * 100,
      processes: chosen ? [...chosen].sort() : [],
    };
  });
}

/** Mean over the window's samples of the service's mean RSS (over `ids`, or all its processes). */
function meanRss(window: readonly Sample[], service: PipelineService, ids: ReadonlySet<string> | undefined): number | null {
  const perSample = window
    .map((s) => s.processes.filter((p) => p.service === service && p.rssMiB !== null && (ids === undefined || ids.has(p.id))).map((p) => p.rssMiB as number))
    .filter((values) => values.length > 0)
    .map((values) => values.reduce((a, b) => a + b, 0) / values.length);
  return perSample.length === 0 ? null : perSample.reduce((a, b) => a + b, 0) / perSample.length;
}

/** The highest event-loop lag any process of each service showed, in ms (p99 per interval and the interval's max). */
export function worstLoopLag(samples: readonly Sample[]): Record<string, { p99Ms: number | null; maxMs: number | null }> {
  const out: Record<string, { p99Ms: number | null; maxMs: number | null }> = {};
  for (const service of PIPELINE_SERVICES) {
    const readings = samples.flatMap((s) => s.processes.filter((p) => p.service === service));
    out[service] = { p99Ms: maxOf(readings.map((r) => r.loopP99Ms)), maxMs: maxOf(readings.map((r) => r.loopMaxMs)) };
  }
  return out;
}

export function worstConsumerLag(samples: readonly Sample[]): Record<string, number | null> {
  return Object.fromEntries(CONSUMING_SERVICES.map((group) => [group, maxOf(samples.map((s) => s.consumerLag[group] ?? null))]));
}

function maxOf(values: readonly (number | null)[]): number | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length === 0 ? null : Math.max(...finite);
}

/** Long format: one row per value, so processes that come and go need no column of their own. */
export function samplesCsv(samples: readonly Sample[]): string {
  const rows = ['elapsed_s,phase,metric,subject,value'];
  const row = (s: Sample, metric: string, subject: string, value: number | null) => {
    if (value !== null) rows.push(`${s.elapsedS.toFixed(1)},${s.phase},${metric},${subject},${Number(value.toFixed(3))}`);
  };
  for (const s of samples) {
    for (const p of s.processes) {
      row(s, 'rss_mib', p.id, p.rssMiB);
      row(s, 'eventloop_lag_p99_ms', p.id, p.loopP99Ms);
      row(s, 'eventloop_lag_max_ms', p.id, p.loopMaxMs);
    }
    for (const [group, lag] of Object.entries(s.consumerLag)) row(s, 'consumer_lag_records', group, lag);
    row(s, 'throughput_per_s', 'accepted', s.throughput.acceptedPerS);
    row(s, 'throughput_per_s', 'results', s.throughput.resultsPerS);
    row(s, 'throughput_per_s', 'acks', s.throughput.acksPerS);
    row(s, 'total', 'accepted', s.totals.accepted);
    row(s, 'total', 'results', s.totals.results);
    row(s, 'total', 'acknowledged', s.totals.acknowledged);
  }
  return `${rows.join('\n')}\n`;
}

/** The four panels of the report's chart: RSS, event-loop lag, consumer lag, throughput; x in minutes. */
export function chartOf(samples: readonly Sample[], opts: { title: string; subtitle: string; markers: readonly Marker[]; spans?: readonly Span[] }): ChartSpec {
  const minutes = (s: Sample) => s.elapsedS / 60;
  const ids = [...new Set(samples.flatMap((s) => s.processes.filter((p) => p.service !== 'simulator').map((p) => p.id)))].sort();
  const perProcess = (value: (p: ProcessReading) => number | null): Series[] =>
    ids.map((id) => ({
      name: id,
      points: samples.map((s) => [minutes(s), value(s.processes.find((p) => p.id === id) ?? NO_READING)] as const),
    }));
  const panels: Panel[] = [
    { title: 'Resident memory (RSS) per process', unit: 'MiB', series: perProcess((p) => p.rssMiB) },
    { title: 'Event-loop lag, p99 over each interval', unit: 'ms', series: perProcess((p) => p.loopP99Ms) },
    {
      title: 'Consumer lag per group',
      unit: 'records',
      series: CONSUMING_SERVICES.map((group) => ({ name: group, points: samples.map((s) => [minutes(s), s.consumerLag[group] ?? null] as const) })),
    },
    {
      title: 'Throughput',
      unit: 'events/s',
      series: [
        { name: 'accepted/s', points: samples.map((s) => [minutes(s), s.throughput.acceptedPerS] as const) },
        { name: 'results/s', points: samples.map((s) => [minutes(s), s.throughput.resultsPerS] as const) },
        { name: 'acks/s', points: samples.map((s) => [minutes(s), s.throughput.acksPerS] as const) },
      ],
    },
  ];
  return { title: opts.title, subtitle: opts.subtitle, xLabel: 'minutes since the load started', panels, markers: opts.markers, spans: opts.spans ?? [] };
}

const NO_READING: ProcessReading = { id: '', service: 'simulator', pid: 0, rssMiB: null, loopP99Ms: null, loopMaxMs: null };
