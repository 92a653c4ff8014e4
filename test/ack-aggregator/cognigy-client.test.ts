import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyAuth, OAuthClientCredentials, type FetchLike } from '../../shared/cognigy/auth.js';
import { COGNIGY_CONTRACT } from '../../shared/cognigy/contract.js';
import { classifyAckResponse, CognigyClient } from '../../services/ack-aggregator/cognigy-client.js';
import { BatchRejected, CountMismatch } from '../../services/ack-aggregator/errors.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import type { AckRequest } from '../../services/ack-aggregator/batching.js';
import { ContractCheck } from '../support/cognigy-contract.js';

const ok = (body: object) => ({ status: 200, body: JSON.stringify(body), retryAfter: null });

describe('classifyAckResponse', () => {
  it('accepts a 200 whose counts add up to the batch and says COMPLETED', () => {
    expect(classifyAckResponse(ok({ processedCount: 4, failedCount: 1, status: 'COMPLETED', batchId: 'b' }), 5, 0)).toEqual({
      outcome: 'accepted',
      httpStatus: 200,
      processedCount: 4,
      failedCount: 1,
    });
  });

  it('refuses a 200 whose counts do not add up, or that is not COMPLETED, as a retriable count mismatch', () => {
    expect(() => classifyAckResponse(ok({ processedCount: 4, failedCount: 0, status: 'COMPLETED' }), 5, 0)).toThrow(CountMismatch);
    expect(() => classifyAckResponse(ok({ processedCount: 5, failedCount: 0, status: 'PENDING' }), 5, 0)).toThrow(CountMismatch);
    expect(() => classifyAckResponse({ status: 200, body: 'not json', retryAfter: null }, 5, 0)).toThrow(CountMismatch);
    expect(new CountMismatch(5, {}).retriable).toBe(true);
  });

  it('counts a 409 as success: the batch was applied before', () => {
    expect(classifyAckResponse({ status: 409, body: '{}', retryAfter: null }, 5, 0)).toMatchObject({ outcome: 'duplicate', httpStatus: 409 });
  });

  it('reads Retry-After on a 429, in seconds or as a date', () => {
    const seconds = captureError(() => classifyAckResponse({ status: 429, body: '', retryAfter: '2' }, 5, 0));
    expect(seconds).toBeInstanceOf(CognigyRateLimited);
    expect((seconds as CognigyRateLimited).retryAfterMs).toBe(2_000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    const date = captureError(() => classifyAckResponse({ status: 429, body: '', retryAfter: 'Wed, 01 Jan 2025 00:00:03 GMT' }, 5, now));
    expect((date as CognigyRateLimited).retryAfterMs).toBe(3_000);
    const none = captureError(() => classifyAckResponse({ status: 429, body: '', retryAfter: null }, 5, 0));
    expect((none as CognigyRateLimited).retryAfterMs).toBeUndefined();
  });

  it('retries 5xx, and dead-letters a 400 with the answer', () => {
    expect(() => classifyAckResponse({ status: 503, body: '', retryAfter: null }, 5, 0)).toThrow(CognigyUnavailable);
    const rejected = captureError(() => classifyAckResponse({ status: 400, body: '{"error":"validation_failed"}', retryAfter: null }, 5, 0));
    expect(rejected).toBeInstanceOf(BatchRejected);
    expect((rejected as BatchRejected).answer).toBe('{"error":"validation_failed"}');
    expect((rejected as BatchRejected).retriable).toBe(false);
  });

  it('treats a wrong endpoint path as retriable rather than dead-lettering every batch', () => {
    expect(() => classifyAckResponse({ status: 404, body: '', retryAfter: null }, 5, 0)).toThrow(CognigyUnavailable);
  });
});

const TOKEN_PATH = COGNIGY_CONTRACT.token.path;
const ACK_PATH = COGNIGY_CONTRACT.batchAcknowledge.path;

/** Every request the clients send in these tests is held to the Cognigy contract. */
const contract = new ContractCheck({ requests: true });
afterEach(() => contract.verify());

/** A scripted Cognigy: token answers and batch answers in order, with every request recorded and checked against the contract. */
function fakeCognigy(script: { tokens?: { status: number; body?: object }[]; batches?: number[] }) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  let issued = 0;
  const scripted: FetchLike = async (url, init) => {
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>));
    calls.push({ url, headers, body: String(init.body) });
    if (url.endsWith(TOKEN_PATH)) {
      const answer = script.tokens?.shift() ?? { status: 200 };
      issued += answer.status === 200 ? 1 : 0;
      return new Response(JSON.stringify(answer.body ?? { access_token: `token-${issued}`, token_type: 'Bearer', expires_in: 3_600 }), {
        status: answer.status,
      });
    }
    const status = script.batches?.shift() ?? 200;
    const { batchSize } = JSON.parse(String(init.body)) as AckRequest;
    const body = status === 200 ? { processedCount: batchSize, failedCount: 0, status: 'COMPLETED', batchId: 'x' } : { error: 'e' };
    return new Response(JSON.stringify(body), { status });
  };
  return {
    fetch: contract.wrap(scripted),
    calls,
    tokenCalls: () => calls.filter((c) => c.url.endsWith(TOKEN_PATH)),
    batchCalls: () => calls.filter((c) => c.url.endsWith(ACK_PATH)),
  };
}

const settings = {
  baseUrl: 'http://cognigy',
  tokenPath: TOKEN_PATH,
  clientId: 'id',
  clientSecret: 's3cret',
  scope: 'webhook:write',
  refreshBeforeMs: 30_000,
  timeoutMs: 1_000,
};
const request: AckRequest = {
  idempotencyKey: 'key-1',
  batchSize: 1,
  timestamp: '2025-01-01T00:00:00.000Z',
  statusMatrix: [{ webhookId: 'w', sequenceIndex: 0, status: 'ACKNOWLEDGED' }],
};

describe('OAuthClientCredentials', () => {
  it('requests a token with form-encoded client credentials and the scope', async () => {
    const cognigy = fakeCognigy({});
    const auth = new OAuthClientCredentials(settings, { fetch: cognigy.fetch });
    expect(await auth.headers()).toEqual({ authorization: 'Bearer token-1' });
    const [call] = cognigy.tokenCalls();
    expect(call?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(call?.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'id',
      client_secret: 's3cret',
      scope: 'webhook:write',
    });
  });

  it('serves many calls with one token, including concurrent ones', async () => {
    const cognigy = fakeCognigy({});
    const auth = new OAuthClientCredentials(settings, { fetch: cognigy.fetch });
    await Promise.all([auth.headers(), auth.headers(), auth.headers()]);
    await auth.headers();
    expect(cognigy.tokenCalls()).toHaveLength(1);
  });

  it('replaces a token 30 s before it expires, not earlier', async () => {
    let now = 0;
    const cognigy = fakeCognigy({});
    const auth = new OAuthClientCredentials(settings, { fetch: cognigy.fetch, now: () => now });
    await auth.headers();
    now = 3_600_000 - 30_001;
    expect(await auth.headers()).toEqual({ authorization: 'Bearer token-1' });
    now = 3_600_000 - 30_000;
    expect(await auth.headers()).toEqual({ authorization: 'Bearer token-2' });
  });

  it('uses half of a lifetime shorter than twice the margin', async () => {
    let now = 0;
    const cognigy = fakeCognigy({ tokens: [{ status: 200, body: { access_token: 'short', expires_in: 20 } }] });
    const auth = new OAuthClientCredentials(settings, { fetch: cognigy.fetch, now: () => now });
    await auth.headers();
    now = 9_999;
    expect(await auth.headers()).toEqual({ authorization: 'Bearer short' });
    now = 10_000;
    await auth.headers();
    expect(cognigy.tokenCalls()).toHaveLength(2);
  });

  it('reports refused credentials as a retriable authorisation failure', async () => {
    const cognigy = fakeCognigy({ tokens: [{ status: 401, body: { error: 'invalid_client' } }] });
    const auth = new OAuthClientCredentials(settings, { fetch: cognigy.fetch });
    await expect(auth.headers()).rejects.toBeInstanceOf(CognigyUnauthorized);
  });
});

describe('CognigyClient', () => {
  it('sends the batch with its Idempotency-Key and the bearer token', async () => {
    const cognigy = fakeCognigy({});
    const client = new CognigyClient({ baseUrl: 'http://cognigy', ackPath: ACK_PATH, timeoutMs: 1_000 }, new OAuthClientCredentials(settings, { fetch: cognigy.fetch }), {
      fetch: cognigy.fetch,
    });
    await expect(client.acknowledge(request)).resolves.toMatchObject({ outcome: 'accepted' });
    const [call] = cognigy.batchCalls();
    expect(call?.headers['idempotency-key']).toBe('key-1');
    expect(call?.headers.authorization).toBe('Bearer token-1');
    expect(JSON.parse(call?.body ?? '')).toEqual(request);
    // Both requests were checked against the contract (afterEach asserts they conformed).
    expect(contract.exchanges.map((e) => e.endpoint)).toEqual(['token', 'batchAcknowledge']);
  });

  it('sends a batch with rejected and timed-out items, each with its directive, as the contract states', async () => {
    const cognigy = fakeCognigy({ batches: [200] });
    const client = new CognigyClient({ baseUrl: 'http://cognigy', ackPath: ACK_PATH, timeoutMs: 1_000 }, new ApiKeyAuth('k-1'), { fetch: cognigy.fetch });
    const mixed: AckRequest = {
      idempotencyKey: 'cognigy.fulfillment.results.v1:0:10-12',
      batchSize: 3,
      timestamp: '2025-01-01T00:00:00.000Z',
      statusMatrix: [
        { webhookId: 'w-0', sequenceIndex: 0, status: 'ACKNOWLEDGED' },
        { webhookId: 'w-1', sequenceIndex: 1, status: 'REJECTED', errorDirective: 'PAYLOAD_MALFORMED' },
        { webhookId: 'w-2', sequenceIndex: 2, status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' },
      ],
    };
    await expect(client.acknowledge(mixed)).resolves.toMatchObject({ outcome: 'accepted', processedCount: 3 });
    expect(contract.exchanges.map((e) => [e.endpoint, e.request.headers['x-api-key']])).toEqual([['batchAcknowledge', 'k-1']]);
  });

  it('on a 401 fetches one new token and retries once', async () => {
    const cognigy = fakeCognigy({ batches: [401, 200] });
    const client = new CognigyClient({ baseUrl: 'http://cognigy', ackPath: ACK_PATH, timeoutMs: 1_000 }, new OAuthClientCredentials(settings, { fetch: cognigy.fetch }), {
      fetch: cognigy.fetch,
    });
    await expect(client.acknowledge(request)).resolves.toMatchObject({ outcome: 'accepted' });
    expect(cognigy.batchCalls().map((c) => c.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it('does not loop on a second 401', async () => {
    const cognigy = fakeCognigy({ batches: [401, 401, 200] });
    const client = new CognigyClient({ baseUrl: 'http://cognigy', ackPath: ACK_PATH, timeoutMs: 1_000 }, new OAuthClientCredentials(settings, { fetch: cognigy.fetch }), {
      fetch: cognigy.fetch,
    });
    await expect(client.acknowledge(request)).rejects.toBeInstanceOf(CognigyUnauthorized);
    expect(cognigy.batchCalls()).toHaveLength(2);
    expect(cognigy.tokenCalls()).toHaveLength(2);
  });

  it('sends X-API-Key and no token request with COGNIGY_AUTH=api-key', async () => {
    const cognigy = fakeCognigy({ batches: [401] });
    const client = new CognigyClient({ baseUrl: 'http://cognigy', ackPath: ACK_PATH, timeoutMs: 1_000 }, new ApiKeyAuth('k-1'), { fetch: cognigy.fetch });
    await expect(client.acknowledge(request)).rejects.toBeInstanceOf(CognigyUnauthorized);
    expect(cognigy.batchCalls().map((c) => c.headers['x-api-key'])).toEqual(['k-1']);
    expect(cognigy.tokenCalls()).toHaveLength(0);
  });

  it('turns a network failure into a retriable error', async () => {
    const failing: FetchLike = async () => {
      throw new TypeError('fetch failed');
    };
    const client = new CognigyClient({ baseUrl: 'http://cognigy', ackPath: ACK_PATH, timeoutMs: 1_000 }, new ApiKeyAuth('k'), { fetch: failing });
    const error = await client.acknowledge(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CognigyUnavailable);
    expect((error as CognigyUnavailable).retriable).toBe(true);
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
