import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createConsoleApp, type ConsoleParts } from '../../services/console/app.js';
import { ConsoleAuth } from '../../services/console/auth.js';
import { DeadLetterIndex } from '../../services/console/dead-letters.js';
import { EventIndex } from '../../services/console/event-index.js';
import type { FlowSampler } from '../../services/console/flow-sampler.js';
import type { ConsoleOperations } from '../../services/console/operations.js';
import type { DeadLetterPage, RedriveView, SessionView } from '../../services/console/views.js';
import { createMetricsRegistry } from '../../shared/metrics.js';
import type { DlqFilter } from '../../shared/operations/dlq-filter.js';
import type { DeadLetterRecord } from '../../shared/operations/dlq-filter.js';
import { topicNames } from '../../shared/topics.js';

const TOKEN = 'app-test-token-0123456789abcdef';
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const topics = topicNames('');

/** A dead letter as fulfillment writes one; `minutesAgo` sets its place in the newest-first order. */
function deadLetter(offset: number, minutesAgo: number, reason: string, session: string, partition = 0): DeadLetterRecord {
  return {
    topic: topics.dlq,
    partition,
    offset,
    key: Buffer.from(session),
    value: Buffer.from('{}'),
    timestamp: NOW - minutesAgo * 60_000,
    headers: {
      'event-id': `event-${partition}-${offset}`,
      'correlation-id': `corr-${offset}`,
      'original-topic': topics.callbacks,
      'original-partition': String(partition),
      'original-offset': String(offset),
      'retry-attempt': '4',
      'error-class': reason === 'non-retriable' ? 'DownstreamRejected' : 'DownstreamUnavailable',
      'error-message': 'failed',
      'dlq-reason': reason,
    },
  };
}

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(options: { actions?: boolean; records?: DeadLetterRecord[]; operations?: Partial<ConsoleOperations> } = {}) {
  const deadLetters = new DeadLetterIndex(topics, 100_000);
  deadLetters.add(options.records ?? []);
  const redrives: { filter: DlqFilter; execute: boolean }[] = [];
  const operations = {
    redriveProgress: async () => new Map(),
    redrive: async (filter: DlqFilter, execute: boolean): Promise<RedriveView> => {
      redrives.push({ filter, execute });
      return { outcome: execute ? 'applied' : 'planned', selected: 1, moved: execute ? 1 : 0, alreadyRedriven: 0, notSelected: 0, skipped: {}, deferred: 0, message: '' };
    },
    decode: async () => ({ value: { sessionId: 's' }, decodeError: null, body: { sessionId: 's' } }),
    ...options.operations,
  } as unknown as ConsoleOperations;
  const session: SessionView = {
    actionsAllowed: options.actions ?? false,
    refreshMs: 2_000,
    topics: { callbacks: topics.callbacks, results: topics.results, dlq: topics.dlq, batches: topics.ackBatches },
    groups: [{ group: 'cognigy-fulfillment', topics: [topics.callbacks] }],
  };
  const parts: ConsoleParts = {
    auth: new ConsoleAuth(TOKEN),
    session,
    flow: { view: async () => ({}) } as unknown as FlowSampler,
    deadLetters,
    events: new EventIndex(1_000),
    operations,
    registry: createMetricsRegistry('console'),
    ready: () => true,
    now: () => NOW,
  };
  const app = createConsoleApp(parts);
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? TOKEN}`);
    const res = await fetch(`${base}${path}`, { ...init, headers });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // the page, not JSON
    }
    return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> };
  };
  const postJson = (path: string, body: unknown, token?: string | null) =>
    call(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, token });
  return { call, postJson, redrives };
}

describe('the console API', () => {
  it('refuses every data route without the token or with a wrong one, and serves only the page assets freely', async () => {
    const { call } = await serve();
    for (const path of ['/api/session', '/api/flow', '/api/dead-letters', '/api/dead-letters/0/1', '/api/batches', '/api/events/x', '/api/replay/plan']) {
      const refused = await call(path, { token: null });
      expect(refused.status, path).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="console"');
      expect((await call(path, { token: `${TOKEN}x` })).status, path).toBe(401);
      expect((await call(path, { token: TOKEN.replace(/.$/, 'x') })).status, path).toBe(401);
    }
    const page = await call('/', { token: null });
    expect(page.status).toBe(401);
    expect(page.text).toContain('login.js');
    expect(page.text).not.toContain('console.js');
    expect((await call('/')).text).toContain('console.js');
    for (const asset of ['/console.js', '/console.css', '/login.js']) expect((await call(asset, { token: null })).status, asset).toBe(200);
  });

  it('forbids inline scripts and framing on every answer, and is never cached', async () => {
    const { call } = await serve();
    for (const path of ['/', '/api/session', '/console.js']) {
      const res = await call(path);
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'self'");
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    expect((await call('/api/session')).headers.get('cache-control')).toBe('no-store');
  });

  it('logs in with the token for a cookie that is not the token, and logs out', async () => {
    const { call, postJson } = await serve();
    expect((await postJson('/api/login', { token: 'wrong' }, null)).status).toBe(401);
    const login = await call('/api/login', { method: 'POST', body: JSON.stringify({ token: TOKEN }), headers: { 'content-type': 'application/json' }, token: null });
    expect(login.status).toBe(204);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^console_session=/);
    expect(cookie).not.toContain(TOKEN);
    expect((await call('/api/session', { token: null, headers: { cookie } })).status).toBe(200);
    expect((await call('/api/session', { token: null, headers: { cookie: `${cookie}x` } })).status).toBe(401);
  });

  it('stays read-only unless actions are allowed: redrive and replay answer 403 and do nothing', async () => {
    const { postJson, redrives } = await serve({ actions: false });
    expect((await postJson('/api/dead-letters/redrive', { selection: [{ partition: 0, offset: 1 }], execute: true })).status).toBe(403);
    expect((await postJson('/api/replay', { group: 'cognigy-fulfillment', topic: topics.callbacks, to: 'earliest', confirmGroup: 'cognigy-fulfillment' })).status).toBe(403);
    expect(redrives).toEqual([]);
  });

  it('redrives a selection or a filter when actions are allowed, a dry run unless told to execute', async () => {
    const { postJson, redrives } = await serve({ actions: true });
    expect((await postJson('/api/dead-letters/redrive', { selection: [{ partition: 2, offset: 7 }], execute: false })).json.outcome).toBe('planned');
    expect((await postJson('/api/dead-letters/redrive', { filter: { reason: 'non-retriable', session: 's-1' }, execute: true })).json.outcome).toBe('applied');
    expect(redrives).toEqual([
      { filter: { reasons: [], errorClasses: [], originalTopics: [], positions: ['2:7'] }, execute: false },
      { filter: expect.objectContaining({ reasons: ['non-retriable'], sessions: ['s-1'] }), execute: true },
    ]);
  });

  it('answers a mistake with 400 and the field at fault', async () => {
    const { call, postJson } = await serve({ actions: true });
    expect((await call('/api/dead-letters?pageSize=500')).json).toMatchObject({ field: 'pageSize' });
    expect((await call('/api/dead-letters?since=yesterday')).json).toMatchObject({ field: 'since' });
    expect((await call('/api/dead-letters?since=1h&until=2h')).json).toMatchObject({ field: 'until' });
    expect((await call('/api/batches?limit=0')).json).toMatchObject({ field: 'limit' });
    expect((await postJson('/api/dead-letters/redrive', { selection: [{ partition: 0 }], execute: true })).json).toMatchObject({ field: 'selection' });
    expect((await postJson('/api/dead-letters/redrive', { selection: [{ partition: 0, offset: 1 }] })).json).toMatchObject({ field: 'execute' });
    expect((await postJson('/api/replay', { group: 'cognigy-fulfillment', topic: topics.callbacks, to: 'earliest', confirmGroup: 'nope' })).json).toMatchObject({ field: 'confirmGroup' });
    expect((await call('/api/replay/plan?group=cognigy-fulfillment&topic=other&to=1h')).json).toMatchObject({ field: 'topic' });
    const notJson = await call('/api/dead-letters/redrive', { method: 'POST', body: 'execute=true', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(notJson.status).toBe(415);
    const broken = await call('/api/dead-letters/redrive', { method: 'POST', body: '{"execute":', headers: { 'content-type': 'application/json' } });
    expect(broken.json).toMatchObject({ field: 'body' });
  });

  it('answers 503 while Kafka does not', async () => {
    const down = Object.assign(new Error('Connection timeout'), { name: 'KafkaJSConnectionError' });
    const { call } = await serve({ operations: { redriveProgress: async () => Promise.reject(down) } });
    const res = await call('/api/dead-letters');
    expect(res.status).toBe(503);
    expect(res.json.error).toContain('Connection timeout');
  });

  it('pages through 10,000 dead letters newest first, filtered by reason and session, with counts for the filter', async () => {
    const records = Array.from({ length: 10_000 }, (_, i) => deadLetter(i, 10_000 - i, i % 4 === 0 ? 'non-retriable' : 'retries-exhausted', `session-${i % 100}`, i % 3));
    const { call } = await serve({ records });
    const first = (await call('/api/dead-letters?page=0&pageSize=50')).json as unknown as DeadLetterPage;
    expect(first).toMatchObject({ total: 10_000, matching: 10_000, page: 0, pageSize: 50 });
    expect(first.rows.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 9_999 - i));
    expect(first.reasons).toEqual({ 'non-retriable': 2_500, 'retries-exhausted': 7_500 });
    const last = (await call('/api/dead-letters?page=199&pageSize=50')).json as unknown as DeadLetterPage;
    expect(last.rows.at(-1)?.offset).toBe(0);
    const filtered = (await call('/api/dead-letters?reason=non-retriable&session=session-8&pageSize=200')).json as unknown as DeadLetterPage;
    expect(filtered.matching).toBe(100);
    expect(filtered.rows.every((r) => r.reason === 'non-retriable' && r.sessionId === 'session-8')).toBe(true);
    expect((await call('/api/dead-letters?since=30m')).json.matching).toBe(30);
    expect((await call('/api/dead-letters/1/9997')).json).toMatchObject({ row: { offset: 9_997, partition: 1 }, body: { sessionId: 's' } });
    expect((await call('/api/dead-letters/1/10001')).status).toBe(404);
  });
});

describe('the dead-letter index', () => {
  it('keeps the newest when it holds more than its limit', () => {
    const index = new DeadLetterIndex(topics, 100);
    index.add(Array.from({ length: 250 }, (_, i) => deadLetter(i, 250 - i, 'retries-exhausted', 's')));
    expect(index.size).toBe(100);
    expect(index.get(0, 149)).toBeUndefined();
    expect(index.get(0, 150)).toBeDefined();
    const page = index.page({ reasons: [], errorClasses: [], originalTopics: [] }, 0, 200, new Map(), NOW);
    expect(page.rows.at(-1)?.offset).toBe(150);
  });

  it('holds a record read twice once, and shows records that arrive after a filter was paged', () => {
    const index = new DeadLetterIndex(topics, 100);
    const all = { reasons: [], errorClasses: [], originalTopics: [] };
    const refused = { ...all, reasons: ['non-retriable'] };
    index.add([deadLetter(1, 5, 'non-retriable', 's'), deadLetter(2, 4, 'retries-exhausted', 's')]);
    expect(index.page(refused, 0, 10, new Map(), NOW).matching).toBe(1);
    // A reader that starts again reads the same records again.
    index.add([deadLetter(1, 5, 'non-retriable', 's'), deadLetter(2, 4, 'retries-exhausted', 's'), deadLetter(3, 1, 'non-retriable', 's')]);
    expect(index.size).toBe(3);
    expect(index.page(refused, 0, 10, new Map(), NOW).rows.map((r) => r.offset)).toEqual([3, 1]);
    expect(index.page(all, 0, 10, new Map(), NOW)).toMatchObject({ total: 3, matching: 3, reasons: { 'non-retriable': 2, 'retries-exhausted': 1 } });
  });

  it('shows a callback as redriven once the redrive group has settled it, a result left in the DLQ never', () => {
    const index = new DeadLetterIndex(topics, 100);
    const result = { ...deadLetter(3, 1, 'invalid-ack-item', 's'), headers: { ...deadLetter(3, 1, 'invalid-ack-item', 's').headers, 'original-topic': topics.results } };
    index.add([deadLetter(1, 3, 'non-retriable', 's'), deadLetter(2, 2, 'non-retriable', 's'), result]);
    const progress = new Map([[0, { next: 2, ranges: [] }]]);
    const rows = index.page({ reasons: [], errorClasses: [], originalTopics: [] }, 0, 10, progress, NOW).rows;
    expect(Object.fromEntries(rows.map((r) => [r.offset, r.redriven]))).toEqual({ 1: true, 2: false, 3: false });
    const all = new Map([[0, { next: 4, ranges: [] }]]);
    expect(Object.fromEntries(index.page({ reasons: [], errorClasses: [], originalTopics: [] }, 0, 10, all, NOW).rows.map((r) => [r.offset, r.redriven]))).toEqual({ 1: true, 2: true, 3: false });
  });
});
