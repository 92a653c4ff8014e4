/**
 * `npm run bench -- console`: whether the operator console stays responsive with 10,000 dead
 * letters in the dead-letter topic. Three measurements, each against a baseline taken in the same
 * run on the same data:
 *
 * 1. Start-up read: from calling startConsole until GET /api/dead-letters says it holds all
 *    10,000, against a bare kafkajs consumer (fresh group, from the beginning, eachBatch) reading
 *    the same records. Alternating rounds, so drift on a shared machine hits both alike.
 * 2. API paging: autocannon against GET /api/dead-letters (pages 0, 50 and 199 of 50 rows, and a
 *    reason + session filter), against a bare express answering the same rows as precomputed JSON.
 * 3. Browser: headless Chromium opening the dead-letters view and turning pages, against the same
 *    browser navigating between two static 50-row HTML pages of the same data.
 *
 * The console runs in this process (startConsole), as do the baselines; Kafka and the registry run
 * on the same machine (benchInfra).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ConsoleEnv, type ConsoleConfig } from '../services/console/config.js';
import { startConsole, type ConsoleHandle } from '../services/console/service.js';
import type { DeadLetterPage, DeadLetterRow } from '../services/console/views.js';
import { loadConfig } from '../shared/config.js';
import { createIdempotentProducer, createKafka, ensureTopics, type KafkaClient, type Message } from '../shared/kafka.js';
import type { Logger } from '../shared/logging.js';
import { createRegistry, TopicSerde } from '../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../shared/topic-catalog.js';
import { topicNames, type TopicNames } from '../shared/topics.js';
import { lowConfidenceCallback } from '../test/support/callback-fixtures.js';
import { describeMachine } from './machine.js';
import { benchInfra, load, type LoadResult } from './support.js';

const LETTERS = 10_000;
const SESSIONS = 500;
const PRODUCE_BATCH = 500;
/** Dead-lettered over the last three hours: the table sorts by time, so the spread matters. */
const SPREAD_MS = 3 * 60 * 60 * 1_000;
const PAGE_SIZE = 50;
const PAGES = LETTERS / PAGE_SIZE;
const STARTUP_ROUNDS = 3;
const READ_TIMEOUT_MS = 120_000;
const LOAD_S = 10;
const WARMUP_S = 3;
const CONNECTIONS = 10;
const OPENS = 10;
const PAGE_TURNS = 20;
const WARMUP_TURNS = 2;
const CHROMIUM = '/usr/bin/chromium';
/** Session of the filtered query: 20 dead letters, about a third of them non-retriable. */
const FILTER_SESSION = 'bench-session-7';
const TOKEN = `bench-console-${randomUUID()}`;
const AUTH = { authorization: `Bearer ${TOKEN}` };

const note = (line: string) => void process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]) => percentile(values, 50);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)} x` : '–');

// ---- data --------------------------------------------------------------------------------------

/**
 * Dead letter n, with the headers fulfillment writes (as test/operations/dlq.int.test.ts does):
 * a third non-retriable (rejected by the downstream, straight from the callbacks topic), the rest
 * retries-exhausted from the last retry tier, timing out or unavailable. Keyed by session, so the
 * default partitioner spreads them over the partitions.
 */
async function deadLetter(n: number, topics: TopicNames, serde: TopicSerde<'CognigyCallback'>, now: number): Promise<Message> {
  const sessionId = `bench-session-${n % SESSIONS}`;
  const eventId = randomUUID();
  const at = now - Math.floor(((LETTERS - n) / LETTERS) * SPREAD_MS);
  const nonRetriable = n % 3 === 0;
  const errorClass = nonRetriable ? 'DownstreamRejected' : n % 2 === 0 ? 'DownstreamTimeout' : 'DownstreamUnavailable';
  return {
    key: sessionId,
    value: await serde.encode(lowConfidenceCallback(eventId, sessionId, new Date(at - 120_000).toISOString())),
    timestamp: String(at),
    headers: {
      'event-id': eventId,
      'correlation-id': `corr-${eventId}`,
      'original-topic': nonRetriable ? topics.callbacks : topics.retry(3),
      'original-partition': String(n % 6),
      'original-offset': String(Math.floor(n / 6)),
      'retry-attempt': nonRetriable ? '1' : '4',
      'first-failed-at': new Date(at - 60_000).toISOString(),
      'error-class': errorClass,
      'error-message': nonRetriable ? 'downstream answered 422' : n % 2 === 0 ? 'downstream did not answer within 5000 ms' : 'downstream answered 503',
      'dlq-reason': nonRetriable ? 'non-retriable' : 'retries-exhausted',
    },
  };
}

async function writeDeadLetters(kafka: KafkaClient, registryUrl: string, topics: TopicNames): Promise<void> {
  const serde = new TopicSerde(createRegistry(registryUrl), topics.callbacks, 'CognigyCallback');
  await serde.register();
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    const now = Date.now();
    for (let start = 0; start < LETTERS; start += PRODUCE_BATCH) {
      const messages = await Promise.all(Array.from({ length: Math.min(PRODUCE_BATCH, LETTERS - start) }, (_, i) => deadLetter(start + i, topics, serde, now)));
      await producer.send({ topic: topics.dlq, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

// ---- 1. start-up read ---------------------------------------------------------------------------

/**
 * Baseline: the least any reader of the topic can do, a bare consumer in a fresh group that only
 * counts. Same fetch wait as the console's followers (250 ms). Timed from before connecting, as the
 * console is timed from before startConsole.
 */
async function rawRead(kafka: KafkaClient, topic: string): Promise<number> {
  const started = performance.now();
  const consumer = kafka.consumer({ groupId: `bench-console-raw-${randomUUID()}`, maxWaitTimeInMs: 250 });
  let seen = 0;
  let done!: (at: number) => void;
  const complete = new Promise<number>((resolve) => (done = resolve));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= LETTERS) done(performance.now());
      },
    });
    const timer = setTimeout(() => done(NaN), READ_TIMEOUT_MS);
    const at = await complete;
    clearTimeout(timer);
    if (Number.isNaN(at)) throw new Error(`the raw consumer read only ${seen} of ${LETTERS} within ${READ_TIMEOUT_MS} ms`);
    return at - started;
  } finally {
    await consumer.disconnect();
  }
}

async function deadLetterPage(url: string, query: string): Promise<DeadLetterPage> {
  const res = await fetch(`${url}/api/dead-letters?${query}`, { headers: AUTH });
  if (!res.ok) throw new Error(`GET /api/dead-letters?${query}: ${res.status} ${await res.text()}`);
  return (await res.json()) as DeadLetterPage;
}

/**
 * The console: from calling startConsole (group joins of its four followers, the DLQ read from the
 * beginning, the index) until the API says it holds every dead letter. Polled every 25 ms, which
 * is also what an operator's first look costs it while it reads.
 */
async function consoleRead(config: ConsoleConfig, logger: Logger): Promise<{ handle: ConsoleHandle; listeningMs: number; heldMs: number }> {
  const started = performance.now();
  const handle = await startConsole(config, { logger });
  const listeningMs = performance.now() - started;
  const deadline = Date.now() + READ_TIMEOUT_MS;
  for (;;) {
    const { total } = await deadLetterPage(handle.url, 'pageSize=1');
    if (total === LETTERS) return { handle, listeningMs, heldMs: performance.now() - started };
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`the console held ${total} of ${LETTERS} dead letters after ${READ_TIMEOUT_MS} ms`);
    }
    await sleep(25);
  }
}

// ---- 2. API paging ----------------------------------------------------------------------------

interface Served {
  url: string;
  close(): Promise<void>;
}

async function serve(app: Express): Promise<Served> {
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  server.keepAliveTimeout = 65_000;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface ApiResult {
  name: string;
  perSecond: number;
  p50: number;
  p99: number;
  failed: number;
}

/**
 * autocannon on a worker thread of its own (workers: 1), so the load generator does not share the
 * event loop of the server it measures; the fixed paths are cycled through per connection.
 */
async function hammer(name: string, url: string, paths: string[], durationS: number): Promise<ApiResult> {
  const result: LoadResult = await load({
    url,
    connections: CONNECTIONS,
    duration: durationS,
    workers: 1,
    headers: AUTH,
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  return { name, perSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, failed: result.non2xx + result.errors + result.timeouts };
}

async function measureApi(name: string, url: string, paths: string[]): Promise<ApiResult> {
  await hammer(name, url, paths, WARMUP_S);
  return hammer(name, url, paths, LOAD_S);
}

// ---- 3. browser -------------------------------------------------------------------------------

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A static page of the same 50 rows and columns the console shows, linking to its twin. */
function staticPage(rows: DeadLetterRow[], n: number, other: number): string {
  const cells = (r: DeadLetterRow) =>
    [
      r.deadLetteredAt,
      `${Math.round(r.ageMs / 60_000)}m`,
      r.reason,
      r.errorClass,
      r.sessionId ?? '–',
      r.eventId.slice(0, 12),
      `${r.originalTopic} ${r.originalPartition}@${r.originalOffset}`,
      r.attempts,
      r.redriven ? 'redriven' : 'waiting',
    ]
      .map((c) => `<td>${escapeHtml(c)}</td>`)
      .join('');
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dead letters</title></head><body>',
    '<table><thead><tr><th>Dead-lettered</th><th>Age</th><th>Reason</th><th>Error class</th><th>Session</th><th>Event</th><th>From</th><th>Attempts</th><th>State</th></tr></thead><tbody>',
    ...rows.map((r) => `<tr data-testid="dlq-row">${cells(r)}</tr>`),
    `</tbody></table><nav><span data-testid="dlq-page">Page ${n} of 2</span> <a data-testid="dlq-next" href="/static/${other}">Older</a></nav>`,
    '</body></html>',
  ].join('\n');
}

interface BrowserResult {
  opens: number[];
  turns: number[];
  staticTurns: number[];
}

async function waitForPageText(page: Page, text: string): Promise<void> {
  await page
    .locator('[data-testid=dlq-page]')
    .filter({ hasText: new RegExp(`^${text}$`) })
    .waitFor({ timeout: 30_000 });
}

async function measureBrowser(browser: Browser, consoleUrl: string, staticUrl: string): Promise<BrowserResult> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${consoleUrl}/`);
    await page.fill('[data-testid=login-token]', TOKEN);
    await page.click('[data-testid=login-submit]');
    await page.locator('[data-testid=tab-flow]').waitFor();
    await page.locator('#view-flow').waitFor();

    // Opening the view: tab click until its 50 rows are shown. Between opens the flow view is
    // shown and the table emptied, so each open waits for rows built by that open.
    const opens: number[] = [];
    for (let i = 0; i < OPENS; i += 1) {
      if (i > 0) {
        await page.click('[data-testid=tab-flow]');
        await page.locator('#view-flow').waitFor();
        await page.evaluate("document.querySelector('#dlq-table tbody').replaceChildren()");
      }
      const started = performance.now();
      await page.click('[data-testid=tab-dead-letters]');
      await page.locator('[data-testid=dlq-row]').nth(PAGE_SIZE - 1).waitFor();
      opens.push(performance.now() - started);
    }
    await waitForPageText(page, `Page 1 of ${PAGES}`);

    // Page turns: "Older" until the pager names the next page (its rows are built in the same task).
    const turns: number[] = [];
    for (let i = 0; i < WARMUP_TURNS + PAGE_TURNS; i += 1) {
      const started = performance.now();
      await page.click('[data-testid=dlq-next]');
      await waitForPageText(page, `Page ${i + 2} of ${PAGES}`);
      if (i >= WARMUP_TURNS) turns.push(performance.now() - started);
    }

    // Baseline: a full navigation between two static pages of the same rows, in the same browser.
    const staticTurns: number[] = [];
    await page.goto(`${staticUrl}/static/1`);
    await waitForPageText(page, 'Page 1 of 2');
    for (let i = 0; i < WARMUP_TURNS + PAGE_TURNS; i += 1) {
      const started = performance.now();
      await page.click('[data-testid=dlq-next]');
      await waitForPageText(page, `Page ${i % 2 === 0 ? 2 : 1} of 2`);
      await page.locator('[data-testid=dlq-row]').nth(PAGE_SIZE - 1).waitFor();
      if (i >= WARMUP_TURNS) staticTurns.push(performance.now() - started);
    }
    return { opens, turns, staticTurns };
  } finally {
    await context.close();
  }
}

// ---- the run ----------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const infra = await benchInfra();
  const prefix = `bench-console-${Date.now().toString(36)}.`;
  const topics = topicNames(prefix);
  const stops: (() => Promise<unknown>)[] = [];
  // Log lines (the console's and this bench's Kafka client's) go to stderr, away from the report;
  // through the project's kafkajs log mapping, so retries kafkajs handles itself stay quiet.
  const logger: Logger = pino({ level: 'warn', base: { service: 'console' } }, pino.destination({ dest: 2, sync: true }));
  const kafka = createKafka({ brokers: infra.kafkaBrokers.split(','), clientId: 'bench-console', logger });
  const admin = kafka.admin();
  try {
    // The flow view samples the services' /metrics.json: one that answers with no metrics.
    const metricsApp = express();
    metricsApp.get('/metrics.json', (_req, res) => void res.json([]));
    const metrics = await serve(metricsApp);
    stops.push(metrics.close);

    const config = loadConfig(ConsoleEnv, {
      KAFKA_BROKERS: infra.kafkaBrokers,
      SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
      TOPIC_PREFIX: prefix,
      CONSOLE_TOKEN: TOKEN,
      CONSOLE_PORT: '0',
      CONSOLE_HOST: '127.0.0.1',
      CONSOLE_METRICS_URLS: metrics.url,
      LOG_LEVEL: 'warn',
    });

    await admin.connect();
    stops.push(() => admin.disconnect());
    // The bench's topics go when it ends (on a broker of its own they go with the broker anyway).
    stops.push(async () => {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    });
    await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)));
    note(`console bench: writing ${LETTERS} dead letters to ${topics.dlq}`);
    await writeDeadLetters(kafka, infra.schemaRegistryUrl, topics);
    const partitions = (await admin.fetchTopicOffsets(topics.dlq)).filter((p) => Number(p.high) > 0).length;

    // 1. Start-up read, alternating; the console of the last round stays up for the rest.
    note('console bench: start-up read');
    const raw: number[] = [];
    const held: number[] = [];
    const listening: number[] = [];
    let consoleHandle: ConsoleHandle | undefined;
    for (let round = 0; round < STARTUP_ROUNDS; round += 1) {
      raw.push(await rawRead(kafka, topics.dlq));
      const started = await consoleRead(config, logger);
      held.push(started.heldMs);
      listening.push(started.listeningMs);
      if (round < STARTUP_ROUNDS - 1) await started.handle.stop();
      else consoleHandle = started.handle;
    }
    const consoleApp = consoleHandle as ConsoleHandle;
    stops.push(() => consoleApp.stop());

    // 2. API paging. The baseline answers the console's own JSON for the same query, precomputed.
    note('console bench: API paging');
    const pageQuery = (page: number) => `page=${page}&pageSize=${PAGE_SIZE}`;
    const filterQuery = `reason=non-retriable&session=${FILTER_SESSION}&page=0&pageSize=${PAGE_SIZE}`;
    const firstPage = await deadLetterPage(consoleApp.url, pageQuery(0));
    const filtered = await deadLetterPage(consoleApp.url, filterQuery);
    const firstBody = JSON.stringify(firstPage);
    const filteredBody = JSON.stringify(filtered);
    const bareApp = express();
    bareApp.disable('x-powered-by');
    bareApp.get('/api/dead-letters', (req, res) => void res.type('application/json').send(req.query.reason === undefined ? firstBody : filteredBody));
    bareApp.get('/static/:n', (req, res) => {
      const n = req.params.n === '2' ? 2 : 1;
      res.type('text/html').send(staticPage(firstPage.rows, n, n === 1 ? 2 : 1));
    });
    const bare = await serve(bareApp);
    stops.push(bare.close);

    const pagePaths = [0, 50, PAGES - 1].map((p) => `/api/dead-letters?${pageQuery(p)}`);
    const filterPaths = [`/api/dead-letters?${filterQuery}`];
    const api = {
      bare: await measureApi('bare express, precomputed page 0 (baseline)', bare.url, pagePaths),
      pages: await measureApi(`console, pages 1, 51 and ${PAGES} of ${PAGES} (${PAGE_SIZE} rows each)`, consoleApp.url, pagePaths),
      bareFiltered: await measureApi(`bare express, precomputed filtered page (baseline, ${filtered.rows.length} rows)`, bare.url, filterPaths),
      filtered: await measureApi(`console, reason=non-retriable + one session (${filtered.matching} match)`, consoleApp.url, filterPaths),
    };

    // 3. Browser.
    let browserResult: BrowserResult | undefined;
    let browserNote = '';
    if (existsSync(CHROMIUM)) {
      note('console bench: browser');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
      stops.push(() => browser.close());
      browserNote = `Chromium ${browser.version()}, headless`;
      browserResult = await measureBrowser(browser, consoleApp.url, bare.url);
    } else {
      browserNote = `skipped: ${CHROMIUM} is missing`;
    }

    // ---- report ----
    const out: string[] = [];
    out.push(`machine: ${describeMachine()}`);
    out.push(
      `console benchmark: ${LETTERS} dead letters on ${partitions} partitions (${SESSIONS} sessions, spread over ${SPREAD_MS / 3_600_000} h), console and baselines in this process (from source through tsx, as every bench runs), Kafka and registry on the same machine`,
    );
    out.push('');
    out.push(`1. start-up read: ms until all ${LETTERS} dead letters are held, ${STARTUP_ROUNDS} alternating rounds`);
    out.push(`| reader | ${raw.map((_, i) => `round ${i + 1}`).join(' | ')} | median |`);
    out.push(`|---|${raw.map(() => '---|').join('')}---|`);
    const startRow = (label: string, values: number[]) => `| ${label} | ${values.map((v) => fmt(v)).join(' | ')} | ${fmt(median(values))} |`;
    out.push(startRow('raw kafkajs consumer, fresh group, eachBatch (baseline)', raw));
    out.push(startRow('console: startConsole until GET /api/dead-letters total = 10000', held));
    out.push(startRow('  of which: startConsole until listening', listening));
    out.push(`console / baseline (medians): ${ratio(median(held), median(raw))}`);
    out.push('');
    out.push(`2. API paging: autocannon, ${CONNECTIONS} connections, ${LOAD_S} s each after ${WARMUP_S} s warm-up, Authorization: Bearer, load generator on its own worker thread`);
    out.push('| target | req/s | p50 ms | p99 ms | non-2xx+errors |');
    out.push('|---|---|---|---|---|');
    for (const r of [api.bare, api.pages, api.bareFiltered, api.filtered]) {
      out.push(`| ${r.name} | ${fmt(r.perSecond)} | ${r.p50} | ${r.p99} | ${r.failed} |`);
    }
    const apiRatio = (label: string, c: ApiResult, b: ApiResult) =>
      `${label}: req/s ${ratio(c.perSecond, b.perSecond)}, p50 ${ratio(c.p50, b.p50)}, p99 ${ratio(c.p99, b.p99)}`;
    out.push(apiRatio('console / baseline, pages', api.pages, api.bare));
    out.push(apiRatio('console / baseline, filtered', api.filtered, api.bareFiltered));
    out.push('');
    out.push(`3. browser: ${browserNote}`);
    if (browserResult) {
      const { opens, turns, staticTurns } = browserResult;
      out.push('| measure | n | first ms | median ms | p95 ms |');
      out.push('|---|---|---|---|---|');
      const row = (label: string, v: number[]) => `| ${label} | ${v.length} | ${fmt(v[0] ?? NaN)} | ${fmt(median(v))} | ${fmt(percentile(v, 95))} |`;
      out.push(row(`static 50-row page to its twin, full navigation (baseline)`, staticTurns));
      out.push(row(`console: open the dead-letters tab until ${PAGE_SIZE} rows shown`, opens));
      out.push(row(`console: "Older" until "Page N+1 of ${PAGES}"`, turns));
      out.push(`console / baseline (medians): open ${ratio(median(opens), median(staticTurns))}, page turn ${ratio(median(turns), median(staticTurns))}`);
      out.push(`console / baseline (p95): open ${ratio(percentile(opens, 95), percentile(staticTurns, 95))}, page turn ${ratio(percentile(turns, 95), percentile(staticTurns, 95))}`);
    }
    console.log(`\n${out.join('\n')}`);
  } finally {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => note(`console bench: stopping: ${error instanceof Error ? error.message : String(error)}`));
    }
    await infra.stop();
  }
}
