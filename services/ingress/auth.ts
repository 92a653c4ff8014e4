import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AuthScheme } from './config.js';

/** What the verifiers need of a request: its raw bytes and lower-cased headers. */
export interface SignedRequest {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

export interface AuthSettings {
  schemes: readonly AuthScheme[];
  hmacSecrets: readonly string[];
  basicUsers: readonly string[];
  apiKeyHeader: string;
  apiKeys: readonly string[];
  standardWebhooksSecrets: readonly string[];
  timestampToleranceS: number;
}

export type AuthOutcome = { ok: true; scheme: AuthScheme } | { ok: false; reason: string };

const SHA256_BYTES = 32;

function header(req: SignedRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Equal-length digests compared in constant time; the digest hides the candidate's length. */
function sameSecret(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** Checks every candidate without stopping early, so timing does not tell which one matched. */
function anyMatch<T>(candidates: readonly T[], matches: (candidate: T) => boolean): boolean {
  let found = false;
  for (const candidate of candidates) found = matches(candidate) || found;
  return found;
}

/** HMAC-SHA256 hex of the raw body in X-Cognigy-Signature or X-Webhook-Signature, `sha256=` optional. */
export function verifyHmac(req: SignedRequest, secrets: readonly string[]): boolean {
  const provided = header(req, 'x-cognigy-signature') ?? header(req, 'x-webhook-signature');
  if (!provided) return false;
  const hex = provided.trim().replace(/^sha256=/i, '');
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== SHA256_BYTES * 2) return false;
  const given = Buffer.from(hex, 'hex');
  return anyMatch(secrets, (secret) => timingSafeEqual(given, createHmac('sha256', secret).update(req.rawBody).digest()));
}

/** HTTP Basic against `user:pass` entries. */
export function verifyBasic(req: SignedRequest, users: readonly string[]): boolean {
  const authorization = header(req, 'authorization');
  const match = authorization?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!match?.[1]) return false;
  const credentials = Buffer.from(match[1], 'base64').toString('utf8');
  return anyMatch(users, (user) => sameSecret(credentials, user));
}

export function verifyApiKey(req: SignedRequest, headerName: string, keys: readonly string[]): boolean {
  const provided = header(req, headerName);
  if (!provided) return false;
  return anyMatch(keys, (key) => sameSecret(provided, key));
}

/**
 * Standard Webhooks: HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}` with the
 * base64 key after `whsec_`; the signature header lists `v1,<base64>` entries separated by spaces.
 */
export function verifyStandardWebhooks(
  req: SignedRequest,
  secrets: readonly string[],
  toleranceS: number,
  nowMs: number,
): { ok: true } | { ok: false; reason: string } {
  const id = header(req, 'webhook-id');
  const timestamp = header(req, 'webhook-timestamp');
  const signatures = header(req, 'webhook-signature');
  if (!id || !timestamp || !signatures) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) return { ok: false, reason: 'malformed webhook-timestamp' };
  if (Math.abs(nowMs / 1000 - seconds) > toleranceS) return { ok: false, reason: 'webhook-timestamp outside tolerance' };
  const given = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'))
    .filter((sig) => sig.length === SHA256_BYTES);
  const signedContent = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), req.rawBody]);
  const ok = anyMatch(secrets, (secret) => {
    const expected = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64')).update(signedContent).digest();
    return anyMatch(given, (sig) => timingSafeEqual(sig, expected));
  });
  return ok ? { ok: true } : { ok: false, reason: 'no matching signature' };
}

/** A request passes if it satisfies one enabled scheme. The reason never includes an expected value. */
export function authenticate(req: SignedRequest, settings: AuthSettings, nowMs = Date.now()): AuthOutcome {
  const reasons: string[] = [];
  for (const scheme of settings.schemes) {
    switch (scheme) {
      case 'hmac':
        if (verifyHmac(req, settings.hmacSecrets)) return { ok: true, scheme };
        reasons.push('hmac: missing or invalid signature');
        break;
      case 'basic':
        if (verifyBasic(req, settings.basicUsers)) return { ok: true, scheme };
        reasons.push('basic: missing or invalid credentials');
        break;
      case 'api-key':
        if (verifyApiKey(req, settings.apiKeyHeader, settings.apiKeys)) return { ok: true, scheme };
        reasons.push('api-key: missing or invalid key');
        break;
      case 'standard-webhooks': {
        const outcome = verifyStandardWebhooks(req, settings.standardWebhooksSecrets, settings.timestampToleranceS, nowMs);
        if (outcome.ok) return { ok: true, scheme };
        reasons.push(`standard-webhooks: ${outcome.reason}`);
        break;
      }
    }
  }
  return { ok: false, reason: reasons.join('; ') };
}

/** Cognigy-style signature of a body: what a Flow's Code node computes, and what /simulate sends. */
export function signHmac(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}
