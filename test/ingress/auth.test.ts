import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate, signHmac, type AuthSettings, type SignedRequest } from '../../services/ingress/auth.js';

const body = Buffer.from('{"sessionId":"s-1","userId":"u","text":"hi"}');
const whsec = 'whsec_' + Buffer.from('standard-webhooks-test-key-0001').toString('base64');

const settings = (over: Partial<AuthSettings> = {}): AuthSettings => ({
  schemes: ['hmac'],
  hmacSecrets: ['current-secret'],
  basicUsers: ['cognigy:p4ss'],
  apiKeyHeader: 'x-cognigy-api-key',
  apiKeys: ['key-1'],
  standardWebhooksSecrets: [whsec],
  timestampToleranceS: 300,
  ...over,
});

const req = (headers: Record<string, string>, raw = body): SignedRequest => ({ rawBody: raw, headers });

function standardSignature(id: string, ts: number, raw: Buffer, secret = whsec): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${ts}.`).update(raw).digest('base64');
}

describe('hmac', () => {
  it('accepts the right secret in X-Cognigy-Signature', () => {
    expect(authenticate(req({ 'x-cognigy-signature': signHmac(body, 'current-secret') }), settings()).ok).toBe(true);
  });

  it('accepts X-Webhook-Signature with a sha256= prefix', () => {
    const outcome = authenticate(req({ 'x-webhook-signature': 'sha256=' + signHmac(body, 'current-secret') }), settings());
    expect(outcome).toEqual({ ok: true, scheme: 'hmac' });
  });

  it('refuses a signature made with a wrong secret', () => {
    expect(authenticate(req({ 'x-cognigy-signature': signHmac(body, 'wrong') }), settings()).ok).toBe(false);
  });

  it('accepts every secret during rotation and refuses once a secret is retired', () => {
    const rotating = settings({ hmacSecrets: ['new-secret', 'current-secret'] });
    expect(authenticate(req({ 'x-cognigy-signature': signHmac(body, 'current-secret') }), rotating).ok).toBe(true);
    expect(authenticate(req({ 'x-cognigy-signature': signHmac(body, 'new-secret') }), rotating).ok).toBe(true);
    const retired = settings({ hmacSecrets: ['new-secret'] });
    expect(authenticate(req({ 'x-cognigy-signature': signHmac(body, 'current-secret') }), retired).ok).toBe(false);
  });

  it('refuses a signature of the wrong length and a missing header', () => {
    const sig = signHmac(body, 'current-secret');
    expect(authenticate(req({ 'x-cognigy-signature': sig.slice(0, 62) }), settings()).ok).toBe(false);
    expect(authenticate(req({ 'x-cognigy-signature': sig + 'ab' }), settings()).ok).toBe(false);
    expect(authenticate(req({}), settings()).ok).toBe(false);
  });

  it('signs the raw bytes: the same JSON re-serialised differently does not verify', () => {
    const sig = signHmac(body, 'current-secret');
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    expect(authenticate(req({ 'x-cognigy-signature': sig }, reformatted), settings()).ok).toBe(false);
  });

  it('never names the expected signature in the refusal', () => {
    const outcome = authenticate(req({ 'x-cognigy-signature': signHmac(body, 'wrong') }), settings());
    expect(JSON.stringify(outcome)).not.toContain(signHmac(body, 'current-secret'));
  });
});

describe('basic', () => {
  const basic = (user: string) => ({ authorization: 'Basic ' + Buffer.from(user).toString('base64') });
  it('accepts configured credentials and refuses others', () => {
    expect(authenticate(req(basic('cognigy:p4ss')), settings({ schemes: ['basic'] })).ok).toBe(true);
    expect(authenticate(req(basic('cognigy:wrong')), settings({ schemes: ['basic'] })).ok).toBe(false);
    expect(authenticate(req({ authorization: 'Bearer abc' }), settings({ schemes: ['basic'] })).ok).toBe(false);
  });
});

describe('api key', () => {
  it('accepts a configured key in the configured header only', () => {
    expect(authenticate(req({ 'x-cognigy-api-key': 'key-1' }), settings({ schemes: ['api-key'] })).ok).toBe(true);
    expect(authenticate(req({ 'x-cognigy-api-key': 'key-2' }), settings({ schemes: ['api-key'] })).ok).toBe(false);
    expect(authenticate(req({ 'x-other': 'key-1' }), settings({ schemes: ['api-key'] })).ok).toBe(false);
  });
});

describe('standard webhooks', () => {
  const now = Date.UTC(2026, 10, 23, 12, 0, 0);
  const ts = Math.floor(now / 1000);
  const sw = settings({ schemes: ['standard-webhooks'] });
  const headers = (timestamp: number, signature: string) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  });

  it('accepts a valid signature, also among several', () => {
    expect(authenticate(req(headers(ts, standardSignature('msg_1', ts, body))), sw, now).ok).toBe(true);
    const several = `v1,${Buffer.alloc(32).toString('base64')} ${standardSignature('msg_1', ts, body)}`;
    expect(authenticate(req(headers(ts, several)), sw, now).ok).toBe(true);
  });

  it('refuses a stale timestamp and one from the future beyond the tolerance', () => {
    const stale = ts - 301;
    const future = ts + 301;
    expect(authenticate(req(headers(stale, standardSignature('msg_1', stale, body))), sw, now)).toMatchObject({ ok: false, reason: expect.stringContaining('tolerance') });
    expect(authenticate(req(headers(future, standardSignature('msg_1', future, body))), sw, now)).toMatchObject({ ok: false, reason: expect.stringContaining('tolerance') });
    const edge = ts - 299;
    expect(authenticate(req(headers(edge, standardSignature('msg_1', edge, body))), sw, now).ok).toBe(true);
  });

  it('refuses a signature over another id or body', () => {
    expect(authenticate(req(headers(ts, standardSignature('msg_2', ts, body))), sw, now).ok).toBe(false);
    expect(authenticate(req(headers(ts, standardSignature('msg_1', ts, Buffer.from('{}')))), sw, now).ok).toBe(false);
  });
});

describe('several schemes', () => {
  it('passes a request that satisfies any one enabled scheme and ignores disabled ones', () => {
    const both = settings({ schemes: ['hmac', 'basic'] });
    expect(authenticate(req({ authorization: 'Basic ' + Buffer.from('cognigy:p4ss').toString('base64') }), both)).toEqual({ ok: true, scheme: 'basic' });
    expect(authenticate(req({ 'x-cognigy-api-key': 'key-1' }), both).ok).toBe(false);
  });
});
