import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (standardwebhooks.com) signing and verifying, written once: the ingress verifies
 * callbacks with it and the dead-letter notifier signs what it sends, so the two cannot drift.
 * HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}`, keyed with the base64-decoded
 * secret after its `whsec_` prefix; the signature header lists `v1,<base64>` entries separated by
 * spaces (several during a key rotation). Pure apart from the clock the caller passes in.
 */

export const SECRET_PREFIX = 'whsec_';
/** The spec asks for keys of 24 to 64 bytes; shorter keys are refused where this service signs. */
export const MIN_SECRET_BYTES = 24;

const SHA256_BYTES = 32;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export const WebhookHeader = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

export type SignedHeaders = Record<(typeof WebhookHeader)[keyof typeof WebhookHeader], string>;

/** The key bytes of a secret; the `whsec_` prefix is optional here, as senders differ in whether they show it. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** Why a secret cannot sign (undefined when it can): `whsec_` followed by the base64 of at least 24 bytes. */
export function secretProblem(secret: string): string | undefined {
  const expected = `expected ${SECRET_PREFIX} followed by the base64 of a key of at least ${MIN_SECRET_BYTES} bytes`;
  if (!secret.startsWith(SECRET_PREFIX)) return expected;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) return expected;
  const key = Buffer.from(encoded, 'base64');
  // Node decodes leniently; a canonical round trip proves every character was base64.
  if (key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) return expected;
  return key.length < MIN_SECRET_BYTES ? expected : undefined;
}

function digest(key: Buffer, id: string, timestamp: string, body: Buffer | string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** `v1,<base64>` for one message. */
export function sign(secret: string, id: string, timestampS: number, body: Buffer | string): string {
  return `v1,${digest(secretKey(secret), id, String(timestampS), body).toString('base64')}`;
}

/** The three headers of a signed delivery at `nowMs`. */
export function signedHeaders(secret: string, id: string, body: Buffer | string, nowMs: number): SignedHeaders {
  const timestampS = Math.floor(nowMs / 1_000);
  return {
    [WebhookHeader.id]: id,
    [WebhookHeader.timestamp]: String(timestampS),
    [WebhookHeader.signature]: sign(secret, id, timestampS, body),
  };
}

/** The three signature headers as received; any may be missing. */
export interface WebhookHeaders {
  id?: string | undefined;
  timestamp?: string | undefined;
  signature?: string | undefined;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Checks every candidate without stopping early, so timing does not tell which one matched. */
function anyMatch<T>(candidates: readonly T[], matches: (candidate: T) => boolean): boolean {
  let found = false;
  for (const candidate of candidates) found = matches(candidate) || found;
  return found;
}

/**
 * A delivery passes when its timestamp is within `toleranceS` of now (either way) and one of its
 * `v1` signatures matches one of the secrets. Comparisons are constant time; the reason never
 * contains an expected value.
 */
export function verify(
  headers: WebhookHeaders,
  body: Buffer,
  secrets: readonly string[],
  opts: { toleranceS: number; nowMs: number },
): Verdict {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) return { ok: false, reason: 'malformed webhook-timestamp' };
  if (Math.abs(opts.nowMs / 1_000 - seconds) > opts.toleranceS) return { ok: false, reason: 'webhook-timestamp outside tolerance' };
  const given = signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'))
    .filter((sig) => sig.length === SHA256_BYTES);
  const ok = anyMatch(secrets, (secret) => {
    const expected = digest(secretKey(secret), id, timestamp, body);
    return anyMatch(given, (sig) => timingSafeEqual(sig, expected));
  });
  return ok ? { ok: true } : { ok: false, reason: 'no matching signature' };
}

/** The signature headers of a request, whatever shape its framework gives (lower-cased names). */
export function webhookHeadersOf(headers: Record<string, string | string[] | undefined>): WebhookHeaders {
  const one = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return { id: one(WebhookHeader.id), timestamp: one(WebhookHeader.timestamp), signature: one(WebhookHeader.signature) };
}
