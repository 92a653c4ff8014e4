import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { verify as verifyWebhook, webhookHeadersOf, type Verdict } from '../../shared/standard-webhooks.js';
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
 * Standard Webhooks: the shared verifier (the same module signs the dead-letter notifications), with
 * the signature headers of this request.
 */
export function verifyStandardWebhooks(req: SignedRequest, secrets: readonly string[], toleranceS: number, nowMs: number): Verdict {
  return verifyWebhook(webhookHeadersOf(req.headers), req.rawBody, secrets, { toleranceS, nowMs });
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
