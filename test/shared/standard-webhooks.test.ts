import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../services/ingress/auth.js';
import { secretProblem, sign, signedHeaders, verify, webhookHeadersOf } from '../../shared/standard-webhooks.js';

const secret = `whsec_${Buffer.from('a-key-of-exactly-32-bytes-long!!').toString('base64')}`;
const body = Buffer.from('{"type":"dead_letter.written","data":{"eventId":"evt-1"}}');
const now = Date.UTC(2026, 0, 15, 9, 30, 0);
const tolerance = { toleranceS: 300, nowMs: now };

const received = (headers: Record<string, string>) => webhookHeadersOf(headers);

describe('Standard Webhooks signing and verifying', () => {
  it('a signed delivery verifies with the same secret', () => {
    const headers = signedHeaders(secret, 'msg_1', body, now);
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(now / 1_000)));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verify(received({ ...headers }), body, [secret], tolerance)).toEqual({ ok: true });
  });

  it('signs what the spec says: HMAC-SHA256 of "id.timestamp.body" with the base64-decoded key after whsec_', () => {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`msg_1.1700000000.${body.toString()}`).digest('base64');
    expect(sign(secret, 'msg_1', 1_700_000_000, body)).toBe(`v1,${expected}`);
  });

  it('a tampered body, another id or another secret does not verify', () => {
    const headers = signedHeaders(secret, 'msg_1', body, now);
    const tampered = Buffer.from(body.toString().replace('evt-1', 'evt-2'));
    expect(verify(received({ ...headers }), tampered, [secret], tolerance)).toEqual({ ok: false, reason: 'no matching signature' });
    expect(verify(received({ ...headers, 'webhook-id': 'msg_2' }), body, [secret], tolerance).ok).toBe(false);
    const other = `whsec_${Buffer.from('another-key-of-32-bytes-long!!!!').toString('base64')}`;
    expect(verify(received({ ...headers }), body, [other], tolerance).ok).toBe(false);
    expect(verify(received({ ...headers }), body, [other, secret], tolerance).ok).toBe(true);
  });

  it('refuses stale and future timestamps and missing headers', () => {
    const stale = signedHeaders(secret, 'msg_1', body, now - 301_000);
    expect(verify(received({ ...stale }), body, [secret], tolerance)).toEqual({ ok: false, reason: 'webhook-timestamp outside tolerance' });
    const future = signedHeaders(secret, 'msg_1', body, now + 302_000);
    expect(verify(received({ ...future }), body, [secret], tolerance).ok).toBe(false);
    expect(verify(received({ 'webhook-id': 'msg_1' }), body, [secret], tolerance).ok).toBe(false);
  });

  it('what the notifier signs, the ingress accepts', () => {
    const headers = signedHeaders(secret, 'msg_9', body, now);
    const settings = {
      schemes: ['standard-webhooks'] as const,
      hmacSecrets: [],
      basicUsers: [],
      apiKeyHeader: 'x-cognigy-api-key',
      apiKeys: [],
      standardWebhooksSecrets: [secret],
      timestampToleranceS: 300,
    };
    expect(authenticate({ rawBody: body, headers: { ...headers } }, settings, now)).toEqual({ ok: true, scheme: 'standard-webhooks' });
    expect(authenticate({ rawBody: Buffer.from('{}'), headers: { ...headers } }, settings, now).ok).toBe(false);
  });

  it('a secret must be whsec_ and the base64 of at least 24 bytes', () => {
    expect(secretProblem(secret)).toBeUndefined();
    expect(secretProblem(secret.slice('whsec_'.length))).toMatch(/expected whsec_/);
    expect(secretProblem('whsec_not base64!')).toMatch(/expected whsec_/);
    expect(secretProblem(`whsec_${Buffer.from('too-short').toString('base64')}`)).toMatch(/at least 24 bytes/);
    expect(secretProblem('whsec_')).toBeDefined();
  });
});
