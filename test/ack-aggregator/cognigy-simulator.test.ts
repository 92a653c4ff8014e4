import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { ContractCheck } from '../support/cognigy-contract.js';

let sim: RunningSimulator;
/** Every answer of the simulated Cognigy API below, injected faults included, is held to the contract. */
const contract = new ContractCheck({ answers: true });
const api = contract.wrap();

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.cognigy.reset());
afterEach(() => contract.verify());

async function token(form: Record<string, string> = {}): Promise<Response> {
  return api(`${sim.url}/api/v1/auth/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: SIMULATOR_CREDENTIALS.clientId,
      client_secret: SIMULATOR_CREDENTIALS.clientSecret,
      scope: 'webhook:write',
      ...form,
    }),
  });
}

async function bearer(): Promise<string> {
  return ((await (await token()).json()) as { access_token: string }).access_token;
}

function batch(size: number, key = `key-${size}`, item: (i: number) => object = (i) => ({ webhookId: `w-${i}`, sequenceIndex: i, status: 'ACKNOWLEDGED' })) {
  return { idempotencyKey: key, batchSize: size, timestamp: new Date().toISOString(), statusMatrix: Array.from({ length: size }, (_, i) => item(i)) };
}

async function acknowledge(body: object, auth: Record<string, string>, key = (body as { idempotencyKey: string }).idempotencyKey) {
  const response = await api(`${sim.url}/api/v1/webhooks/batch-acknowledge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, ...auth },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json().catch(() => null)) as Record<string, unknown> | null, headers: response.headers };
}

describe('Cognigy API simulator', () => {
  it('issues tokens with the configured lifetime for form-encoded client credentials', async () => {
    sim.cognigy.settings.tokenLifetimeS = 120;
    const response = await token();
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: 'Bearer', expires_in: 120, scope: 'webhook:write' });
    expect(sim.cognigy.tokens).toHaveLength(1);
    expect(contract.answered('token')).toEqual([200]);
  });

  it('answers 401 for bad client credentials and 400 for another grant type', async () => {
    expect((await token({ client_secret: 'wrong' })).status).toBe(401);
    expect((await token({ grant_type: 'password' })).status).toBe(400);
    const unencoded = await api(`${sim.url}/api/v1/auth/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await unencoded.json()).toEqual({ error: 'invalid_request', error_description: 'expected a form-encoded body' });
    expect(sim.cognigy.tokens).toHaveLength(0);
    expect(contract.answered('token')).toEqual([400, 401]);
  });

  it('applies a valid batch once and answers 409 for the same Idempotency-Key', async () => {
    const auth = { authorization: `Bearer ${await bearer()}` };
    const first = await acknowledge(batch(3), auth);
    expect(first).toMatchObject({ status: 200, body: { processedCount: 3, failedCount: 0, status: 'COMPLETED' } });
    expect((await acknowledge(batch(3), auth)).status).toBe(409);
    expect([...sim.cognigy.acknowledged.values()]).toEqual([1, 1, 1]);
    expect(sim.cognigy.batchCalls.map((c) => [c.idempotencyKey, c.status])).toEqual([
      ['key-3', 200],
      ['key-3', 409],
    ]);
    expect(contract.answered('batchAcknowledge')).toEqual([200, 409]);
  });

  it('requires a live bearer token or an API key', async () => {
    expect((await acknowledge(batch(1), {})).status).toBe(401);
    expect((await acknowledge(batch(1), { authorization: 'Bearer forged' })).status).toBe(401);
    expect((await acknowledge(batch(1), { 'x-api-key': SIMULATOR_CREDENTIALS.apiKey })).status).toBe(200);
    const auth = { authorization: `Bearer ${await bearer()}` };
    sim.cognigy.inject({ expireTokens: true });
    expect((await acknowledge(batch(2), auth)).status).toBe(401);
    expect(contract.answered('batchAcknowledge')).toEqual([200, 401]);
  });

  it('validates like the engine: size, statuses, directives, sequence indexes', async () => {
    const auth = { 'x-api-key': SIMULATOR_CREDENTIALS.apiKey };
    expect((await acknowledge(batch(501), auth)).status).toBe(400);
    expect((await acknowledge(batch(2, 'k-a', (i) => ({ webhookId: `w${i}`, sequenceIndex: i, status: 'DONE' })), auth)).status).toBe(400);
    expect((await acknowledge(batch(1, 'k-b', () => ({ webhookId: 'w', sequenceIndex: 0, status: 'REJECTED' })), auth)).status).toBe(400);
    expect(
      (await acknowledge(batch(1, 'k-c', () => ({ webhookId: 'w', sequenceIndex: 0, status: 'ACKNOWLEDGED', errorDirective: 'WEBHOOK_TIMEOUT' })), auth)).status,
    ).toBe(400);
    expect((await acknowledge(batch(2, 'k-d', (i) => ({ webhookId: `w${i}`, sequenceIndex: 0, status: 'ACKNOWLEDGED' })), auth)).status).toBe(400);
    expect((await acknowledge({ ...batch(2, 'k-e'), batchSize: 3 }, auth)).status).toBe(400);
    const otherKey = await acknowledge(batch(1, 'k-f'), auth, 'other-key');
    expect(otherKey).toMatchObject({ status: 400, body: { issues: [{ path: 'Idempotency-Key', message: 'must be sent and equal idempotencyKey' }] } });
    const badStatus = await acknowledge(batch(2, 'k-h', (i) => ({ webhookId: `w${i}`, sequenceIndex: i, status: i === 1 ? 'DONE' : 'ACKNOWLEDGED' })), auth);
    expect(badStatus.body).toMatchObject({ error: 'validation_failed', issues: [{ path: 'statusMatrix.1.status' }] });
    const ok = await acknowledge(batch(2, 'k-g', (i) => ({ webhookId: `w${i}`, sequenceIndex: i, status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' })), auth);
    expect(ok.status).toBe(200);
    expect(sim.cognigy.ackStatuses.get('w1')).toEqual({ status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' });
    expect(contract.answered('batchAcknowledge')).toEqual([200, 400]);
  });

  it('injects 429 with Retry-After, 500s, count mismatches and outages through the admin endpoint', async () => {
    const auth = { 'x-api-key': SIMULATOR_CREDENTIALS.apiKey };
    const inject = (body: object) =>
      fetch(`${sim.url}/admin/cognigy/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await inject({ rateLimit: { count: 1, retryAfterS: 2 }, serverErrors: 1, countMismatch: 1 })).status).toBe(200);
    const limited = await acknowledge(batch(2), auth);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await acknowledge(batch(2), auth)).status).toBe(500);
    expect((await acknowledge(batch(2), auth)).body).toMatchObject({ processedCount: 1, failedCount: 0 });
    expect(sim.cognigy.acknowledged.size).toBe(0);
    expect((await acknowledge(batch(2), auth)).status).toBe(200);

    expect((await inject({ badRequest: 1, conflict: 1 })).status).toBe(200);
    expect((await acknowledge(batch(3), auth)).status).toBe(400);
    expect((await acknowledge(batch(3), auth)).status).toBe(409);

    await inject({ outage: { durationMs: 60_000 } });
    const down = await acknowledge(batch(1), auth);
    expect([down.status, down.headers.get('retry-after')]).toEqual([503, '60']);
    expect((await token()).status).toBe(503);
    await fetch(`${sim.url}/admin/cognigy/faults`, { method: 'DELETE' });
    expect((await acknowledge(batch(1), auth)).status).toBe(200);

    const record = (await (await fetch(`${sim.url}/admin/cognigy/acknowledged`)).json()) as { total: number; duplicates: string[] };
    expect(record).toMatchObject({ total: 2, duplicates: ['w-0'] });
    expect(contract.answered('batchAcknowledge')).toEqual([200, 400, 409, 429, 500, 503]);
    expect(contract.answered('token')).toEqual([503]);
  });

  it('sets session variables with X-Cognigy-Api-Key', async () => {
    const post = (key: string, body: object) =>
      api(`${sim.url}/api/v2/sessions/s-1/variables`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cognigy-api-key': key },
        body: JSON.stringify(body),
      });
    expect((await post('wrong', { variables: { a: 1 } })).status).toBe(401);
    expect((await post(SIMULATOR_CREDENTIALS.apiKey, { variables: { a: 1 } })).status).toBe(200);
    expect(await (await post(SIMULATOR_CREDENTIALS.apiKey, { variables: { b: 2 } })).json()).toEqual({ sessionId: 's-1', variables: { a: 1, b: 2 } });
    const refused = await post(SIMULATOR_CREDENTIALS.apiKey, { b: 3 });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ issues: [{ path: 'variables' }] });
    sim.cognigy.inject({ goneSessions: ['s-1'], variablesRateLimit: { count: 1, retryAfterS: 2 }, variablesServerErrors: 1 });
    const limited = await post(SIMULATOR_CREDENTIALS.apiKey, { variables: { c: 1 } });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '2']);
    expect((await post(SIMULATOR_CREDENTIALS.apiKey, { variables: { c: 1 } })).status).toBe(500);
    expect((await post(SIMULATOR_CREDENTIALS.apiKey, { variables: { c: 1 } })).status).toBe(404);
    expect(sim.cognigy.sessionCalls.map((c) => c.status)).toEqual([401, 200, 200, 400, 429, 500, 404]);
    expect(contract.answered('sessionVariables')).toEqual([200, 400, 401, 404, 429, 500]);
  });
});
