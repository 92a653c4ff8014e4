/**
 * The dashboard and the alert rules name only metrics the services export: the whole pipeline runs
 * against the test broker, callbacks flow through it (one downstream call failing once, one refused,
 * so retry and dead-letter series exist too), and each service's /metrics is read as Prometheus
 * reads it. A metric name in deploy/ that no running service exports fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logging.js';
import { startLocalPipeline, type LocalPipeline } from '../../tools/cli/local-pipeline.js';
import { postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { alertQueries, dashboardQueries, scrapeJobs, usesByName } from './observability-files.js';

const SECRET = 'observability-secret';

/** Series Prometheus records for every target itself; no service exports them. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']);

/** Series this run's traffic must have given samples, not just declared: each stage's flow, a retry and a dead letter. */
const TRAFFIC_SERIES = [
  'ingress_requests_total',
  'ingress_callbacks_total',
  'ingress_request_duration_seconds_bucket',
  'fulfillment_records_total',
  'fulfillment_results_total',
  'fulfillment_retries_total',
  'fulfillment_dead_letters_total',
  'fulfillment_downstream_call_seconds_bucket',
  'ack_batches_total',
  'ack_items_total',
  'ack_batch_latency_seconds_bucket',
  'ack_token_requests_total',
  'session_writer_results_total',
  'session_writer_calls_total',
  'dlq_notifications_total',
  'kafka_consumer_lag',
  'service_ready',
];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  /** Series names the scrape declares: a histogram's as its _bucket, _sum and _count. */
  declared: Set<string>;
  samples: Sample[];
}

const SERIES_OF_TYPE: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** The Prometheus text format, as far as these checks need it. */
function parseExposition(text: string): Scrape {
  const declared = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      for (const suffix of SERIES_OF_TYPE[kind] ?? ['']) declared.add(`${name}${suffix}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: sample[1] as string, labels, value: Number(sample[3]) });
  }
  return { declared, samples };
}

let pipeline: LocalPipeline;
let groups: string[];
let metricsUrls: Record<string, string>;

async function scrapeAll(): Promise<Map<string, Scrape>> {
  const scrapes = new Map<string, Scrape>();
  for (const [job, url] of Object.entries(metricsUrls)) {
    const response = await fetch(`${url}/metrics`);
    expect(response.status, `${job} /metrics`).toBe(200);
    scrapes.set(job, parseExposition(await response.text()));
  }
  return scrapes;
}

function sampled(scrapes: Map<string, Scrape>): Sample[] {
  return [...scrapes.values()].flatMap((s) => s.samples);
}

beforeAll(async () => {
  const infra = testInfra();
  const name = uniqueName('observability');
  groups = [`${name}-fulfillment`, `${name}-acks`, `${name}-sessions`];
  pipeline = await startLocalPipeline({
    kafkaBrokers: infra.kafkaBrokers,
    schemaRegistryUrl: infra.schemaRegistryUrl,
    logger: createLogger('observability', 'error'),
    env: {
      TOPIC_PREFIX: `${name}.`,
      TOPIC_PARTITIONS: '2',
      FULFILLMENT_GROUP_ID: groups[0],
      ACK_GROUP_ID: groups[1],
      SESSION_WRITER_GROUP_ID: groups[2],
      COGNIGY_WEBHOOK_SECRETS: SECRET,
      INGRESS_PORT: '0',
      INGRESS_HOST: '127.0.0.1',
      FULFILLMENT_PORT: '0',
      ACK_AGGREGATOR_PORT: '0',
      SESSION_WRITER_PORT: '0',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '500',
      ACK_WINDOW_MS: '300',
      LOG_LEVEL: 'error',
    },
  });
  const sessions = pipeline.sessions;
  if (sessions === undefined) throw new Error('the session writer did not start');
  // Keyed like prometheus.yml's jobs; the ingress serves /metrics on its admin port.
  metricsUrls = { ingress: pipeline.ingress.adminUrl, fulfillment: pipeline.fulfillment.url, 'ack-aggregator': pipeline.acks.url, 'session-writer': sessions.url };

  // The first downstream call fails (a retry), the second is refused (a dead letter).
  pipeline.simulator.downstream.setFaults({ script: [500, 422] });
  const accepted: string[] = [];
  for (let i = 0; i < 6; i++) {
    const sessionId = `observability-session-${i % 3}`;
    const body = i % 3 === 2 ? { eventType: 'intent_fulfillment', sessionId, intent: 'book_flight', confidence: 0.3 } : { eventType: 'intent_fulfillment', sessionId, intent: 'book_flight', confidence: 0.95 };
    const answer = await postSigned(pipeline.ingress.url, { ...body, seq: i }, {}, SECRET);
    expect(answer.status).toBe(202);
    accepted.push(String(answer.json.eventId));
  }
  const cognigy = pipeline.simulator.cognigy;
  await waitFor(() => accepted.every((id) => cognigy.acknowledged.has(id)), { timeoutMs: 90_000, intervalMs: 250, what: 'every callback acknowledged' });
  // Lag is polled every 10 s, and the session writer finishes on its own schedule.
  await waitFor(
    async () => {
      const samples = sampled(await scrapeAll());
      const names = new Set(samples.map((s) => s.name));
      const lagGroups = new Set(samples.filter((s) => s.name === 'kafka_consumer_lag').map((s) => s.labels.group));
      return TRAFFIC_SERIES.every((n) => names.has(n)) && groups.every((g) => lagGroups.has(g));
    },
    { timeoutMs: 60_000, intervalMs: 500, what: 'samples of every traffic series and lag of every group' },
  );
}, 240_000);

afterAll(async () => {
  await pipeline?.stop();
});

describe('the metrics deploy/ names', () => {
  it('are read from every service Prometheus scrapes, each answering /metrics', async () => {
    expect(Object.keys(metricsUrls).sort()).toEqual(scrapeJobs().map((j) => j.job).sort());
    expect([...(await scrapeAll()).keys()]).toHaveLength(Object.keys(metricsUrls).length);
  });

  it.each([
    ['the dashboard', dashboardQueries],
    ['the alert rules', alertQueries],
  ])('are all exported by a running service, for %s', async (_what, queries) => {
    const scrapes = await scrapeAll();
    const exported = new Set([...scrapes.values()].flatMap((s) => [...s.declared, ...s.samples.map((x) => x.name)]));
    const used = usesByName(queries());
    expect(used.size).toBeGreaterThan(0);
    const unknown = [...used].filter(([name]) => !exported.has(name) && !PROMETHEUS_SERIES.has(name)).map(([name, where]) => `${name} (${where.join('; ')})`);
    expect(unknown).toEqual([]);
  });

  it('include every series this traffic gave samples to, so the panels for it are not empty', async () => {
    const onDashboard = usesByName(dashboardQueries());
    expect(TRAFFIC_SERIES.filter((name) => !onDashboard.has(name))).toEqual([]);
    const names = new Set(sampled(await scrapeAll()).map((s) => s.name));
    expect(TRAFFIC_SERIES.filter((name) => !names.has(name))).toEqual([]);
  });
});

describe('the series behind the panels', () => {
  it('give consumer lag per group, topic and partition', async () => {
    const lag = sampled(await scrapeAll()).filter((s) => s.name === 'kafka_consumer_lag');
    for (const group of groups) {
      const partitions = lag.filter((s) => s.labels.group === group);
      expect(partitions.length, group).toBeGreaterThan(0);
      for (const { labels } of partitions) expect(Object.keys(labels).sort()).toEqual(['group', 'partition', 'service', 'topic']);
    }
  });

  it('label every series with the service it comes from, and say each one is ready', async () => {
    const scrapes = await scrapeAll();
    for (const [job, scrape] of scrapes) {
      expect(new Set(scrape.samples.map((s) => s.labels.service)), job).toEqual(new Set([job]));
      expect(scrape.samples.find((s) => s.name === 'service_ready')?.value, `${job} service_ready`).toBe(1);
    }
  });

  it('count the retry, the dead letter and the confidence routes the callbacks took', async () => {
    const samples = sampled(await scrapeAll());
    const sum = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);
    expect(sum('fulfillment_retries_total', { tier: '1' })).toBe(1);
    expect(sum('fulfillment_dead_letters_total', { reason: 'non-retriable' })).toBe(1);
    expect(sum('fulfillment_results_total', { route: 'FALLBACK' })).toBe(2);
    expect(sum('fulfillment_results_total', { route: 'FULFILLED' })).toBe(3);
    expect(sum('ingress_requests_total', { outcome: 'accepted' })).toBe(6);
  });
});
