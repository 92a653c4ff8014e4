import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { COGNIGY_PATHS, SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { ContractCheck } from '../support/cognigy-contract.js';

/**
 * The simulator's webhook admin API, spoken to directly: what the CLI tests rely on it to enforce.
 * Every answer it gives below, injected faults included, is held to the Cognigy contract.
 */
let sim: RunningSimulator;
const contract = new ContractCheck({ answers: true });
const api = contract.wrap();

beforeAll(async () => {
  sim = await startSimulator(0);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.webhooks.reset();
  sim.cognigy.reset();
});
afterEach(() => contract.verify());

const POLICY = { enabled: true, maxAttempts: 5, backoffStrategy: 'linear', baseDelayMs: 200, maxDelayMs: 5_000, maxRetryWindowSeconds: 1_800 };

async function token(scope = 'bot:webhooks:manage'): Promise<string> {
  const response = await api(`${sim.url}${COGNIGY_PATHS.token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: SIMULATOR_CREDENTIALS.clientId, client_secret: SIMULATOR_CREDENTIALS.clientSecret, scope }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function patch(webhookId: string, body: unknown, headers: Record<string, string>) {
  const response = await api(`${sim.url}/api/v2/bots/bot-a/webhooks/${webhookId}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('the simulated webhook admin API', () => {
  it('refuses a policy the retry rules refuse with 400 and the field path, applying nothing', async () => {
    sim.webhooks.seed('bot-a', { count: 1 });
    const auth = { authorization: `Bearer ${await token()}`, 'idempotency-key': 'k-1' };
    const tooMany = await patch('wh-0001', { retryPolicy: { ...POLICY, maxAttempts: 11, maxRetryWindowSeconds: 86_401 } }, auth);
    expect(tooMany.status).toBe(400);
    expect((tooMany.body.issues as { path: string }[]).map((i) => i.path).sort()).toEqual(['retryPolicy.maxAttempts', 'retryPolicy.maxRetryWindowSeconds']);
    const unordered = await patch('wh-0001', { retryPolicy: { ...POLICY, baseDelayMs: 6_000 } }, auth);
    expect(unordered.body.issues).toEqual([{ path: 'retryPolicy.maxDelayMs', message: 'expected at least the base delay' }]);
    const wrongType = await patch('wh-0001', { retryPolicy: { ...POLICY, maxAttempts: '5' } }, auth);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.issues).toEqual([{ path: 'retryPolicy.maxAttempts', message: 'Invalid input: expected number, received string' }]);
    expect(sim.webhooks.applied).toHaveLength(0);
    expect(contract.answered('patchWebhook')).toEqual([400]);
  });

  it('requires an Idempotency-Key and answers a repeated one 409 without applying again', async () => {
    sim.webhooks.seed('bot-a', { count: 1 });
    const bearer = { authorization: `Bearer ${await token()}` };
    expect(await patch('wh-0001', { retryPolicy: POLICY }, bearer)).toEqual({
      status: 400,
      body: { error: 'validation_failed', issues: [{ path: 'Idempotency-Key', message: 'header required' }] },
    });
    expect((await patch('wh-0001', { retryPolicy: POLICY }, { ...bearer, 'idempotency-key': 'k-1' })).status).toBe(200);
    expect((await patch('wh-0001', { retryPolicy: POLICY }, { ...bearer, 'idempotency-key': 'k-1' })).status).toBe(409);
    expect(sim.webhooks.applied).toHaveLength(1);
    expect(sim.webhooks.bots.get('bot-a')?.get('wh-0001')?.retryPolicy).toEqual(POLICY);
    expect(contract.answered('patchWebhook')).toEqual([200, 400, 409]);
  });

  it('checks the bearer token the token endpoint issued and its scope', async () => {
    sim.webhooks.seed('bot-a', { count: 1 });
    const list = (auth: string) => api(`${sim.url}/api/v2/bots/bot-a/webhooks`, { headers: { authorization: auth } }).then((r) => r.status);
    expect(await list('Bearer not-issued')).toBe(401);
    expect(await list(`Bearer ${await token('bot:webhooks:read')}`)).toBe(200);
    expect(await list(`Bearer ${await token('webhook:write')}`)).toBe(403);
    const readOnly = await patch('wh-0001', { retryPolicy: POLICY }, { authorization: `Bearer ${await token('bot:webhooks:read')}`, 'idempotency-key': 'k' });
    expect(readOnly.status).toBe(403);
    sim.cognigy.inject({ expireTokens: true });
    expect(await list(`Bearer ${sim.cognigy.tokens[0]?.token}`)).toBe(401);
    expect(contract.answered('listWebhooks')).toEqual([200, 401, 403]);
    expect(contract.answered('patchWebhook')).toEqual([403]);
  });

  it('pages by an opaque cursor bound to the bot, at most 100 a page', async () => {
    sim.webhooks.seed('bot-a', { count: 5 });
    sim.webhooks.seed('bot-b', { count: 5 });
    const auth = { authorization: `Bearer ${await token()}` };
    const get = async (bot: string, query: string) => {
      const response = await api(`${sim.url}/api/v2/bots/${bot}/webhooks?${query}`, { headers: auth });
      return { status: response.status, body: (await response.json()) as { items: { id: string }[]; pagination: { nextCursor: string | null } } };
    };
    const first = await get('bot-a', 'pageSize=2');
    expect(first.body.items.map((w) => w.id)).toEqual(['wh-0001', 'wh-0002']);
    const cursor = first.body.pagination.nextCursor as string;
    expect((await get('bot-a', `pageSize=2&cursor=${cursor}`)).body.items.map((w) => w.id)).toEqual(['wh-0003', 'wh-0004']);
    expect((await get('bot-a', `pageSize=5&cursor=${cursor}`)).body.pagination.nextCursor).toBeNull();
    expect((await get('bot-b', `pageSize=2&cursor=${cursor}`)).status).toBe(400);
    expect(await get('bot-a', 'pageSize=101')).toMatchObject({ status: 400, body: { issues: [{ path: 'pageSize', message: 'expected an integer from 1 to 100' }] } });
    expect((await get('bot-unknown', 'pageSize=10')).status).toBe(404);
    expect(contract.answered('listWebhooks')).toEqual([200, 400, 404]);
  });

  it('answers injected faults and unknown webhooks as the contract states', async () => {
    sim.webhooks.seed('bot-a', { count: 1 });
    const auth = { authorization: `Bearer ${await token()}`, 'idempotency-key': 'k-1' };
    sim.webhooks.inject({ rateLimit: { count: 2, retryAfterS: 3 }, serverErrors: 1 });
    const limited = await api(`${sim.url}/api/v2/bots/bot-a/webhooks`, { headers: auth });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '3']);
    expect((await patch('wh-0001', { retryPolicy: POLICY }, auth)).status).toBe(429);
    expect((await patch('wh-0001', { retryPolicy: POLICY }, auth)).status).toBe(500);
    expect((await patch('wh-9999', { retryPolicy: POLICY }, auth)).status).toBe(404);
    expect((await patch('wh-0001', { retryPolicy: POLICY }, { ...auth, authorization: 'Bearer not-issued' })).status).toBe(401);
    expect(contract.answered('listWebhooks')).toEqual([429]);
    expect(contract.answered('patchWebhook')).toEqual([401, 404, 429, 500]);
    expect(sim.webhooks.applied).toHaveLength(0);
  });

  it('seeds a bot through the admin endpoint', async () => {
    const response = await fetch(`${sim.url}/admin/cognigy/bots/bot-c/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ id: 'orders', name: 'Orders', retryPolicy: null }] }),
    });
    expect(response.status).toBe(200);
    expect(sim.webhooks.bots.get('bot-c')?.get('orders')).toEqual({ id: 'orders', name: 'Orders', retryPolicy: null });
  });
});
