import { describe, expect, it } from 'vitest';
import { COGNIGY_CONTRACT, fillPath } from '../../shared/cognigy/contract.js';
import { answerViolations, ContractCheck, requestViolations, type CapturedAnswer, type CapturedRequest } from '../support/cognigy-contract.js';

/** The contract checks themselves: each accepts a conforming call and names the field of a broken one. */

const ACK_URL = `http://cognigy${COGNIGY_CONTRACT.batchAcknowledge.path}`;
const ackBody = {
  idempotencyKey: 'key-1',
  batchSize: 2,
  timestamp: '2025-01-01T00:00:00.000Z',
  statusMatrix: [
    { webhookId: 'w-0', sequenceIndex: 0, status: 'ACKNOWLEDGED' },
    { webhookId: 'w-1', sequenceIndex: 1, status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' },
  ],
};
const ackRequest = (headers: Record<string, string> = {}, body: object = ackBody): CapturedRequest => ({
  method: 'POST',
  url: ACK_URL,
  headers: { authorization: 'Bearer t-1', 'content-type': 'application/json', 'idempotency-key': 'key-1', ...headers },
  body: JSON.stringify(body),
});
const json = (status: number, body: unknown, headers: Record<string, string> = {}): CapturedAnswer => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  body: JSON.stringify(body),
});
const without = (headers: Record<string, string>, name: string) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));

describe('a request checked against the contract', () => {
  it('passes a batch-acknowledge request as the aggregator sends it', () => {
    expect(requestViolations(ackRequest())).toEqual([]);
    expect(requestViolations(ackRequest({ authorization: '', 'x-api-key': 'k' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: Authorization: expected Bearer <token>',
    ]);
    expect(requestViolations({ ...ackRequest(), headers: { ...without(ackRequest().headers, 'authorization'), 'x-api-key': 'k' } })).toEqual([]);
  });

  it('names a missing Idempotency-Key, one that differs from the body, and a missing credential', () => {
    const request = ackRequest();
    expect(requestViolations({ ...request, headers: without(request.headers, 'idempotency-key') })).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: Idempotency-Key: header required',
    ]);
    expect(requestViolations(ackRequest({ 'idempotency-key': 'key-2' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: Idempotency-Key: must be sent and equal idempotencyKey',
    ]);
    expect(requestViolations({ ...request, headers: without(request.headers, 'authorization') })).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: Authorization: expected a Bearer token or X-API-Key',
    ]);
  });

  it('names the body field at fault', () => {
    const badStatus = { ...ackBody, statusMatrix: [{ ...ackBody.statusMatrix[0], status: 'DONE' }, ackBody.statusMatrix[1]] };
    expect(requestViolations(ackRequest({}, badStatus))).toEqual([
      expect.stringMatching(/^POST \/api\/v1\/webhooks\/batch-acknowledge: statusMatrix\.0\.status: /),
    ]);
    const noDirective = { ...ackBody, statusMatrix: [ackBody.statusMatrix[0], { webhookId: 'w-1', sequenceIndex: 1, status: 'REJECTED' }] };
    expect(requestViolations(ackRequest({}, noDirective))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: statusMatrix.1.errorDirective: required when status is REJECTED',
    ]);
    expect(requestViolations({ ...ackRequest(), headers: { ...ackRequest().headers, 'content-type': 'text/plain' } })).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: Content-Type: expected application/json',
    ]);
  });

  it('refuses a path or method the contract does not have', () => {
    expect(requestViolations({ ...ackRequest(), url: 'http://cognigy/ack' })).toEqual(['POST /ack: no endpoint of the Cognigy contract']);
    expect(requestViolations({ ...ackRequest(), method: 'PUT' })).toEqual(['PUT /api/v1/webhooks/batch-acknowledge: no endpoint of the Cognigy contract']);
  });

  it('takes token credentials in the form or as HTTP Basic, but requires one of them', () => {
    const token = (form: Record<string, string>, headers: Record<string, string> = {}): CapturedRequest => ({
      method: 'POST',
      url: `http://cognigy${COGNIGY_CONTRACT.token.path}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    expect(requestViolations(token({ grant_type: 'client_credentials', client_id: 'id', client_secret: 's', scope: 'webhook:write' }))).toEqual([]);
    expect(requestViolations(token({ grant_type: 'client_credentials' }, { authorization: 'Basic aWQ6cw==' }))).toEqual([]);
    expect(requestViolations(token({ grant_type: 'client_credentials' }))).toEqual([
      'POST /api/v1/auth/oauth/token: client_id: client credentials required: client_id and client_secret, or HTTP Basic',
    ]);
    expect(requestViolations(token({ grant_type: 'password', client_id: 'id', client_secret: 's' }))).toEqual([
      'POST /api/v1/auth/oauth/token: grant_type: expected client_credentials',
    ]);
  });

  it('takes session variables with X-Cognigy-Api-Key or a bearer token, not X-API-Key', () => {
    const url = `http://cognigy${fillPath(COGNIGY_CONTRACT.sessionVariables.path, { sessionId: 'chat/42 ä' })}`;
    expect(url).toBe('http://cognigy/api/v2/sessions/chat%2F42%20%C3%A4/variables');
    const write = (headers: Record<string, string>, body: object = { variables: { a: 1 } }): CapturedRequest => ({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    expect(requestViolations(write({ 'x-cognigy-api-key': 'k' }))).toEqual([]);
    expect(requestViolations(write({ 'x-api-key': 'k' }))).toEqual([
      `POST ${new URL(url).pathname}: X-Cognigy-Api-Key: expected X-Cognigy-Api-Key or a Bearer token`,
    ]);
    expect(requestViolations(write({ 'x-cognigy-api-key': 'k' }, { variables: {} }))).toEqual([
      `POST ${new URL(url).pathname}: variables: expected at least one variable`,
    ]);
  });

  it('checks the webhook listing query and the retry policy a PATCH sets', () => {
    const bearer = { authorization: 'Bearer t' };
    expect(requestViolations({ method: 'GET', url: 'http://cognigy/api/v2/bots/b/webhooks?pageSize=100', headers: bearer })).toEqual([]);
    expect(requestViolations({ method: 'GET', url: 'http://cognigy/api/v2/bots/b/webhooks?pageSize=101', headers: bearer })).toEqual([
      'GET /api/v2/bots/b/webhooks: pageSize: expected an integer from 1 to 100',
    ]);
    const policy = { enabled: true, maxAttempts: 11, backoffStrategy: 'linear', baseDelayMs: 200, maxDelayMs: 5_000, maxRetryWindowSeconds: 1_800 };
    const patch = (headers: Record<string, string>): CapturedRequest => ({
      method: 'PATCH',
      url: 'http://cognigy/api/v2/bots/b/webhooks/w',
      headers: { ...bearer, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ retryPolicy: policy }),
    });
    expect(requestViolations(patch({ 'idempotency-key': 'k' }))).toEqual(['PATCH /api/v2/bots/b/webhooks/w: retryPolicy.maxAttempts: expected 1 to 10']);
    expect(requestViolations(patch({}))).toEqual([
      'PATCH /api/v2/bots/b/webhooks/w: Idempotency-Key: header required',
      'PATCH /api/v2/bots/b/webhooks/w: retryPolicy.maxAttempts: expected 1 to 10',
    ]);
  });
});

describe('an answer checked against the contract', () => {
  const ack = { method: 'POST', url: ACK_URL };
  const answered = { batchId: 'b-1', processedCount: 2, failedCount: 0, status: 'COMPLETED' };

  it('passes the documented batch-acknowledge answers', () => {
    expect(answerViolations(ack, json(200, answered))).toEqual([]);
    expect(answerViolations(ack, json(409, { error: 'conflict', message: 'batch already applied' }))).toEqual([]);
    expect(answerViolations(ack, json(429, { error: 'too_many_requests' }, { 'retry-after': '2' }))).toEqual([]);
    expect(answerViolations(ack, json(429, { error: 'too_many_requests' }, { 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }))).toEqual([]);
    expect(answerViolations(ack, json(401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' }))).toEqual([]);
  });

  it('names a renamed or mistyped field of the body', () => {
    const { processedCount: _, ...rest } = answered;
    expect(answerViolations(ack, json(200, { ...rest, processed: 2 }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 200: processedCount: Invalid input: expected number, received undefined',
    ]);
    expect(answerViolations(ack, json(200, { ...answered, failedCount: '0' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 200: failedCount: Invalid input: expected number, received string',
    ]);
    expect(answerViolations(ack, { ...json(200, answered), body: 'OK' })).toEqual(['POST /api/v1/webhooks/batch-acknowledge answered 200: body: not JSON']);
    expect(answerViolations(ack, json(500, { message: 'boom' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 500: error: Invalid input: expected string, received undefined',
    ]);
  });

  it('names a header that is missing or malformed, and a status the contract does not list', () => {
    expect(answerViolations(ack, json(401, { error: 'unauthorized' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 401: WWW-Authenticate: header required',
    ]);
    expect(answerViolations(ack, json(429, { error: 'too_many_requests' }, { 'retry-after': 'soon' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 429: Retry-After: expected delay-seconds or an HTTP-date',
    ]);
    expect(answerViolations(ack, json(200, answered, { 'content-type': 'text/plain' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 200: Content-Type: expected application/json',
    ]);
    expect(answerViolations(ack, json(418, { error: 'teapot' }))).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge answered 418: status 418 is not in the contract (documented: 200, 400, 401, 403, 409, 429, 500, 503)',
    ]);
  });

  it('requires the listing to say where the next page is, or that there is none', () => {
    const list = { method: 'GET', url: 'http://cognigy/api/v2/bots/b/webhooks?pageSize=100' };
    expect(answerViolations(list, json(200, { items: [{ id: 'w' }], pagination: { nextCursor: null } }))).toEqual([]);
    expect(answerViolations(list, json(200, { items: [{ id: 'w' }], pagination: { next: 'c' } }))).toEqual([
      'GET /api/v2/bots/b/webhooks answered 200: pagination.nextCursor: Invalid input: expected string, received undefined',
    ]);
  });

  it('requires an RFC 6749 error code from the token endpoint', () => {
    const token = { method: 'POST', url: `http://cognigy${COGNIGY_CONTRACT.token.path}` };
    expect(answerViolations(token, json(401, { error: 'invalid_client' }))).toEqual([]);
    expect(answerViolations(token, json(200, { access_token: 't', token_type: 'Bearer', expires_in: 3_600 }))).toEqual([]);
    expect(answerViolations(token, json(401, { error: 'unauthorized' }))).toEqual([
      expect.stringMatching(/^POST \/api\/v1\/auth\/oauth\/token answered 401: error: Invalid option/),
    ]);
    expect(answerViolations(token, json(200, { access_token: 't' }))).toEqual([
      'POST /api/v1/auth/oauth/token answered 200: expires_in: Invalid input: expected number, received undefined',
    ]);
  });
});

describe('ContractCheck', () => {
  it('records what breaks the contract in the exchanges through a wrapped fetch', async () => {
    const check = new ContractCheck({ requests: true, answers: true });
    const fetch = check.wrap(async () => new Response(JSON.stringify({ batchId: 'b', processed: 2, failedCount: 0, status: 'COMPLETED' }), { status: 200 }));
    const { 'idempotency-key': _, ...headers } = ackRequest().headers;
    await fetch(ACK_URL, { method: 'POST', headers, body: JSON.stringify(ackBody) });
    expect(check.answered('batchAcknowledge')).toEqual([200]);
    expect(check.found()).toEqual([
      'POST /api/v1/webhooks/batch-acknowledge: Idempotency-Key: header required',
      'POST /api/v1/webhooks/batch-acknowledge answered 200: Content-Type: expected application/json',
      'POST /api/v1/webhooks/batch-acknowledge answered 200: processedCount: Invalid input: expected number, received undefined',
    ]);
    check.clear();
    expect([check.found(), check.exchanges]).toEqual([[], []]);
  });
});
