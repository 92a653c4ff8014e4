import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { DownstreamClient, RESPONSE_LIMIT_BYTES, responseText, type DownstreamRequest } from '../../services/fulfillment/downstream-client.js';
import { DownstreamRejected, DownstreamTimeout, DownstreamUnavailable, ShuttingDown } from '../../services/fulfillment/errors.js';

const request = (eventId: string): DownstreamRequest => ({
  eventId,
  correlationId: `corr-${eventId}`,
  sessionId: 'session-1',
  intent: 'order_status',
  entities: { orderId: '42' },
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});

describe('the answer a result carries', () => {
  it('is the JSON answer compacted, other text as a JSON string, nothing when empty or too large', () => {
    expect(responseText(Buffer.from('{ "text": "Your order ships today" }'))).toBe('{"text":"Your order ships today"}');
    expect(responseText(Buffer.from('plain words'))).toBe('"plain words"');
    expect(responseText(Buffer.alloc(0))).toBeNull();
    expect(responseText(null)).toBeNull();
    expect(RESPONSE_LIMIT_BYTES).toBe(4_096);
  });
});

describe('downstream client against the simulator', () => {
  let simulator: RunningSimulator;
  const never = new AbortController().signal;
  const client = (overrides: { timeoutMs?: number; consecutiveFailures?: number; halfOpenAfterMs?: number } = {}) =>
    new DownstreamClient({ url: `${simulator.url}/v1/fulfill`, timeoutMs: 1_000, consecutiveFailures: 3, halfOpenAfterMs: 60_000, maxInFlight: 10, ...overrides });

  beforeAll(async () => {
    simulator = await startSimulator(0);
  });
  afterAll(async () => {
    await simulator.close();
  });
  beforeEach(() => simulator.downstream.reset());

  it('posts the DESIGN body with the event id as Idempotency-Key', async () => {
    const reply = await client().fulfill(request('e1'), never);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.response!)).toMatchObject({ status: 'fulfilled', sessionId: 'session-1', replay: false });
    expect(simulator.downstream.calls).toEqual([
      expect.objectContaining({
        idempotencyKey: 'e1',
        correlationId: 'corr-e1',
        body: { sessionId: 'session-1', intent: 'order_status', entities: { orderId: '42' }, correlationId: 'corr-e1' },
      }),
    ]);
  });

  it('classifies 5xx and 429 as retriable, other 4xx as rejected, and a slow answer as a timeout', async () => {
    simulator.downstream.setFaults({ script: [500, 429, 422] });
    const c = client({ timeoutMs: 200, consecutiveFailures: 100 });
    await expect(c.fulfill(request('a'), never)).rejects.toBeInstanceOf(DownstreamUnavailable);
    await expect(c.fulfill(request('b'), never)).rejects.toBeInstanceOf(DownstreamUnavailable);
    await expect(c.fulfill(request('c'), never)).rejects.toMatchObject({ status: 422, retriable: false });
    await expect(c.fulfill(request('c'), never)).resolves.toMatchObject({ status: 200 });
    simulator.downstream.setFaults({ script: ['hang'] });
    await expect(c.fulfill(request('d'), never)).rejects.toBeInstanceOf(DownstreamTimeout);
  });

  it('reports an unreachable downstream as retriable', async () => {
    const dead = new DownstreamClient({ url: 'http://127.0.0.1:1/v1/fulfill', timeoutMs: 1_000, consecutiveFailures: 3, halfOpenAfterMs: 1_000, maxInFlight: 1 });
    await expect(dead.fulfill(request('x'), never)).rejects.toBeInstanceOf(DownstreamUnavailable);
  });

  it('opens after 3 consecutive failures, then waits instead of calling until the half-open trial', async () => {
    simulator.downstream.setFaults({ outage: true });
    const blocked: boolean[] = [];
    const c = client({ halfOpenAfterMs: 400 });
    c.onBlocked((b) => blocked.push(b));
    for (const id of ['1', '2', '3']) await expect(c.fulfill(request(id), never)).rejects.toBeInstanceOf(DownstreamUnavailable);
    expect(c.state).toBe('open');
    expect(blocked).toEqual([true]);

    simulator.downstream.setFaults({ outage: false });
    const started = Date.now();
    const reply = await c.fulfill(request('4'), never);
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(simulator.downstream.calls).toHaveLength(4);
    expect(c.state).toBe('closed');
    expect(blocked).toEqual([true, false]);
  });

  it('does not count a 4xx towards opening the breaker', async () => {
    simulator.downstream.setFaults({ script: [422, 422, 422, 422] });
    const c = client();
    for (const id of ['1', '2', '3', '4']) await expect(c.fulfill(request(id), never)).rejects.toBeInstanceOf(DownstreamRejected);
    expect(c.state).toBe('closed');
  });

  it('gives up waiting on an open breaker when shutting down', async () => {
    simulator.downstream.setFaults({ outage: true });
    const c = client({ consecutiveFailures: 1 });
    await expect(c.fulfill(request('1'), never)).rejects.toBeInstanceOf(DownstreamUnavailable);
    const stop = new AbortController();
    const waiting = c.fulfill(request('2'), stop.signal);
    stop.abort();
    await expect(waiting).rejects.toBeInstanceOf(ShuttingDown);
    expect(simulator.downstream.calls).toHaveLength(1);
    c.close();
  });
});

describe('downstream simulator admin endpoints', () => {
  let simulator: RunningSimulator;
  beforeAll(async () => {
    simulator = await startSimulator(0);
  });
  afterAll(async () => {
    await simulator.close();
  });

  it('sets faults over HTTP, refuses bad ones, and lists calls with their Idempotency-Key', async () => {
    const set = await fetch(`${simulator.url}/admin/downstream/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ script: [503], latencyMs: 5 }),
    });
    expect(await set.json()).toMatchObject({ script: [503], latencyMs: 5, outage: false });
    const bad = await fetch(`${simulator.url}/admin/downstream/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 2 }),
    });
    expect(bad.status).toBe(400);

    const call = () => fetch(`${simulator.url}/v1/fulfill`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' }, body: '{"sessionId":"s"}' });
    expect((await call()).status).toBe(503);
    const first = await call();
    const second = await call();
    const [a, b] = [await first.json(), await second.json()] as { fulfillmentId: string; replay: boolean }[];
    expect(a!.fulfillmentId).toBe(b!.fulfillmentId);
    expect([a!.replay, b!.replay]).toEqual([false, true]);

    const listed = (await (await fetch(`${simulator.url}/admin/downstream/calls?idempotencyKey=k1`)).json()) as { count: number; calls: { answer: number }[] };
    expect(listed.count).toBe(3);
    expect(listed.calls.map((c) => c.answer)).toEqual([503, 200, 200]);
  });

  it('answers the configured shares of failures', async () => {
    simulator.downstream.reset();
    simulator.downstream.setFaults({ errorRate: 0.5, rejectRate: 0.5 });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async () => (await fetch(`${simulator.url}/v1/fulfill`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status),
    );
    expect(new Set(statuses)).toEqual(new Set([500, 422]));
  });
});
