/**
 * Every few seconds: each process's RSS (/proc/<pid>/status) and event-loop lag (its /metrics),
 * each group's consumer lag (`kafka_consumer_lag`, exported by its consumers), and throughput:
 * accepted/s from the load generator, results/s from fulfillment's counters, acks/s from the
 * simulator's record.
 */
import { readFile } from 'node:fs/promises';
import type { Fleet, ServiceProcess } from './fleet.js';
import type { LoadGenerator } from './load.js';
import { parseMetrics, parseVmRssKiB, sumBy, sumOf, type MetricSample } from './prometheus.js';
import { CONSUMING_SERVICES, type ProcessReading, type Sample } from './samples.js';

const SCRAPE_TIMEOUT_MS = 2_000;

export interface ProcessScrape {
  rssMiB: number | null;
  metrics: MetricSample[] | null;
}

/** The process's RSS and its metrics (for the ingress: the admin port, else the public port). */
export async function scrape(p: ServiceProcess): Promise<ProcessScrape> {
  if (p.endedAt !== undefined) return { rssMiB: null, metrics: null };
  const [rssMiB, metrics] = await Promise.all([rssOf(p.pid), p.service === 'simulator' ? null : metricsOf(p)]);
  return { rssMiB, metrics };
}

async function rssOf(pid: number): Promise<number | null> {
  try {
    const kib = parseVmRssKiB(await readFile(`/proc/${pid}/status`, 'utf8'));
    return kib === undefined ? null : kib / 1024;
  } catch {
    return null; // gone, or no procfs
  }
}

/** Ingress metrics move to INGRESS_ADMIN_PORT; an ingress without one still serves them on its public port. */
const metricsPorts = new WeakMap<ServiceProcess, number>();

async function metricsOf(p: ServiceProcess): Promise<MetricSample[] | null> {
  const known = metricsPorts.get(p);
  const candidates = known !== undefined ? [known] : [p.adminPort, p.port].filter((port): port is number => port !== undefined);
  for (const port of candidates) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
      if (res.status !== 200) continue;
      metricsPorts.set(p, port);
      return parseMetrics(await res.text());
    } catch {
      // not answering on this port: try the next
    }
  }
  return null;
}

/** Distinct webhookIds the simulator has acknowledged so far. */
export async function acknowledgedTotal(simulatorUrl: string): Promise<number | null> {
  try {
    const res = await fetch(`${simulatorUrl}/admin/cognigy/acknowledged`, { signal: AbortSignal.timeout(10_000) });
    return ((await res.json()) as { total: number }).total;
  } catch {
    return null;
  }
}

/** Per consuming service, the highest per-group lag any live replica reports (each replica sees the whole group's lag). */
export function groupLag(scrapes: ReadonlyMap<ServiceProcess, ProcessScrape>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const service of CONSUMING_SERVICES) {
    const lags = [...scrapes]
      .filter(([p, s]) => p.service === service && s.metrics !== null)
      .map(([, s]) => [...sumBy(s.metrics ?? [], 'kafka_consumer_lag', 'group').values()].reduce((a, b) => a + b, 0));
    out[service] = lags.length === 0 ? null : Math.max(...lags);
  }
  return out;
}

export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private phase: Sample['phase'] = 'load';
  private last = { at: 0, accepted: 0, acknowledged: 0 };
  /** Last seen fulfillment_results_total per process: counters start at 0 in every new process. */
  private readonly resultsSeen = new Map<string, number>();
  private results = 0;

  constructor(
    private readonly fleet: Fleet,
    private readonly load: LoadGenerator,
    private readonly startedAt: number,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.last.at = this.startedAt;
    const loop = () => {
      this.running = this.sample().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(loop, Math.max(0, this.intervalMs - ((Date.now() - this.startedAt) % this.intervalMs)));
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  draining(): void {
    this.phase = 'drain';
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async sample(): Promise<void> {
    const at = Date.now();
    const procs = this.fleet.all().filter((p) => p.endedAt === undefined);
    const [scrapes, acknowledged] = await Promise.all([
      Promise.all(procs.map(async (p) => [p, await scrape(p)] as const)).then((pairs) => new Map(pairs)),
      acknowledgedTotal(this.fleet.simulatorUrl),
    ]);
    for (const [p, s] of scrapes) {
      if (p.service !== 'fulfillment' || s.metrics === null) continue;
      const now = sumOf(s.metrics, 'fulfillment_results_total') ?? 0;
      this.results += Math.max(0, now - (this.resultsSeen.get(p.id) ?? 0));
      this.resultsSeen.set(p.id, now);
    }
    const accepted = this.load.accepted.size;
    const acked = acknowledged ?? this.last.acknowledged;
    const seconds = (at - this.last.at) / 1_000;
    // The first sample, taken as the load starts, has no interval to speak of.
    const rate = (delta: number) => (seconds < 0.5 ? 0 : delta / seconds);
    const previousResults = this.samples.at(-1)?.totals.results ?? 0;
    const processes: ProcessReading[] = [...scrapes].map(([p, s]) => ({
      id: p.id,
      service: p.service,
      pid: p.pid,
      rssMiB: s.rssMiB,
      loopP99Ms: millis(s.metrics, 'nodejs_eventloop_lag_p99_seconds'),
      loopMaxMs: millis(s.metrics, 'nodejs_eventloop_lag_max_seconds'),
    }));
    this.samples.push({
      elapsedS: (at - this.startedAt) / 1_000,
      phase: this.phase,
      processes,
      consumerLag: groupLag(scrapes),
      throughput: {
        acceptedPerS: rate(accepted - this.last.accepted),
        resultsPerS: rate(this.results - previousResults),
        acksPerS: rate(acked - this.last.acknowledged),
      },
      totals: { accepted, results: this.results, acknowledged: acked },
    });
    this.last = { at, accepted, acknowledged: acked };
  }
}

function millis(metrics: MetricSample[] | null, name: string): number | null {
  const value = metrics === null ? undefined : sumOf(metrics, name);
  return value === undefined ? null : value * 1_000;
}
