import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { COGNIGY_CONTRACT, describeIssues, WireRetryPolicy } from '../../shared/cognigy/contract.js';
import type { WebhookRetryPolicy } from '../../shared/retry-policy-rules.js';
import { expressRoute, type CognigyApiState } from './cognigy-api.js';

/**
 * Cognigy's webhook admin API half of the simulator: a bot's webhooks, listed by cursor, and a
 * PATCH of one webhook's retry policy under an Idempotency-Key, validated with the shared contract
 * (whose PATCH body applies the same retry rules the CLI and fulfillment use). Bearer tokens are
 * the ones the simulator's token endpoint issued. Bots are seeded (in-process `state.seed` or
 * `POST /admin/cognigy/bots/:botId/webhooks`), faults injected for the next calls, and every call
 * and applied PATCH recorded.
 */

export const WEBHOOKS_PATHS = {
  list: expressRoute(COGNIGY_CONTRACT.listWebhooks.path),
  webhook: expressRoute(COGNIGY_CONTRACT.patchWebhook.path),
} as const;

/** What the listing serves when the caller names no page size. */
const DEFAULT_PAGE_SIZE = 25;

/** The policy seeded webhooks get unless told otherwise. */
export const SEEDED_POLICY: WebhookRetryPolicy = {
  enabled: true,
  maxAttempts: 3,
  backoffStrategy: 'exponential',
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryWindowSeconds: 3_600,
};

export interface SimulatedWebhook {
  id: string;
  name: string;
  retryPolicy: WebhookRetryPolicy | null;
}

/** Faults for the next webhook API calls (GET or PATCH, after auth); counts go down as calls use them. */
export interface WebhooksFaults {
  rateLimit?: { count: number; retryAfterS?: number };
  serverErrors?: number;
  /** The next n PATCHes are applied, then their connection is reset before the answer. */
  resetAfterApply?: number;
  /** Every call waits this long before it is handled. */
  latencyMs?: number;
}

export const WebhooksFaultRequest = z.object({
  rateLimit: z.object({ count: z.number().int().min(0), retryAfterS: z.number().min(0).optional() }).optional(),
  serverErrors: z.number().int().min(0).optional(),
  resetAfterApply: z.number().int().min(0).optional(),
  latencyMs: z.number().int().min(0).optional(),
});
export type WebhooksFaultRequest = z.input<typeof WebhooksFaultRequest>;

/** `{count}` seeds webhooks wh-0001.. with one policy; `items` seeds exactly these. Either replaces the bot's webhooks. */
export const SeedRequest = z.union([
  z.object({ count: z.number().int().min(0).max(10_000), retryPolicy: WireRetryPolicy.nullable().optional() }),
  z.object({ items: z.array(z.object({ id: z.string().min(1), name: z.string().optional(), retryPolicy: WireRetryPolicy.nullable().optional() })) }),
]);
export type SeedRequest = z.input<typeof SeedRequest>;

export interface WebhookCallRecord {
  at: number;
  method: 'GET' | 'PATCH';
  botId: string;
  webhookId: string | null;
  idempotencyKey: string | null;
  /** The status answered; 0 when the connection was reset instead. */
  status: number;
  applied: boolean;
}

export interface AppliedPatch {
  idempotencyKey: string;
  botId: string;
  webhookId: string;
  retryPolicy: WebhookRetryPolicy;
  at: number;
}

export interface WebhooksApiState {
  bots: Map<string, Map<string, SimulatedWebhook>>;
  faults: WebhooksFaults;
  calls: WebhookCallRecord[];
  /** PATCHes applied, in order; a repeated Idempotency-Key is answered 409 and not added. */
  applied: AppliedPatch[];
  seed(botId: string, request: SeedRequest): SimulatedWebhook[];
  inject(request: WebhooksFaultRequest): void;
  clearFaults(): void;
  /** Forgets bots, calls, applied PATCHes and faults. */
  reset(): void;
}

export function webhooksApi(cognigy: CognigyApiState): { router: Router; state: WebhooksApiState } {
  const state: WebhooksApiState = {
    bots: new Map(),
    faults: {},
    calls: [],
    applied: [],
    seed(botId, request) {
      const parsed = SeedRequest.parse(request);
      const items =
        'count' in parsed
          ? Array.from({ length: parsed.count }, (_, i) => ({ id: `wh-${String(i + 1).padStart(4, '0')}`, name: `webhook ${i + 1}`, retryPolicy: parsed.retryPolicy }))
          : parsed.items;
      const webhooks = items.map((item) => ({
        id: item.id,
        name: item.name ?? item.id,
        retryPolicy: item.retryPolicy === undefined ? { ...SEEDED_POLICY } : item.retryPolicy && { ...item.retryPolicy },
      }));
      state.bots.set(botId, new Map(webhooks.map((w) => [w.id, w])));
      return webhooks;
    },
    inject(request) {
      Object.assign(state.faults, WebhooksFaultRequest.parse(request));
    },
    clearFaults() {
      state.faults = {};
    },
    reset() {
      state.bots.clear();
      state.faults = {};
      state.calls = [];
      state.applied = [];
    },
  };

  const router = Router();

  /** Records the call, then answers 401/403 or an injected fault; true when the call may go on. */
  const admitted = async (req: Request, res: Response, call: WebhookCallRecord, scopes: readonly string[]): Promise<boolean> => {
    state.calls.push(call);
    const refuse = (status: number, body: object, headers: Record<string, string> = {}) => {
      call.status = status;
      res.status(status).set(headers).json(body);
      return false;
    };
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const token = cognigy.tokens.find((t) => t.token === bearer);
    if (token === undefined || token.revoked || Date.now() >= token.expiresAt) {
      return refuse(401, { error: 'invalid_token', message: 'a valid Bearer token is required' }, { 'WWW-Authenticate': 'Bearer' });
    }
    const granted = token.scope.split(/\s+/);
    if (!scopes.some((s) => granted.includes(s))) return refuse(403, { error: 'insufficient_scope', required: scopes.join(' or ') });
    const { faults } = state;
    if (faults.latencyMs) await sleep(faults.latencyMs);
    if (faults.rateLimit && faults.rateLimit.count > 0) {
      faults.rateLimit.count -= 1;
      const retryAfter = faults.rateLimit.retryAfterS;
      return refuse(429, { error: 'too_many_requests' }, retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
    }
    if (take(faults, 'serverErrors')) return refuse(500, { error: 'internal_error' });
    return true;
  };

  router.get(WEBHOOKS_PATHS.list, async (req: Request, res: Response) => {
    const botId = String(req.params.botId);
    const call: WebhookCallRecord = { at: Date.now(), method: 'GET', botId, webhookId: null, idempotencyKey: null, status: 0, applied: false };
    if (!(await admitted(req, res, call, COGNIGY_CONTRACT.listWebhooks.scopes))) return;
    const answer = (status: number, body: object) => {
      call.status = status;
      res.status(status).json(body);
    };
    const webhooks = state.bots.get(botId);
    if (webhooks === undefined) return answer(404, { error: 'not_found', message: `no bot ${botId}` });
    const parsed = COGNIGY_CONTRACT.listWebhooks.request.safeParse({ headers: req.headers, query: req.query, body: undefined });
    if (!parsed.success) return answer(400, { error: 'validation_failed', issues: describeIssues(parsed.error.issues) });
    const { pageSize = DEFAULT_PAGE_SIZE, cursor } = parsed.data.query;
    const offset = cursor === undefined ? 0 : readCursor(cursor, botId);
    if (offset === undefined) return answer(400, { error: 'validation_failed', issues: [{ path: 'cursor', message: 'unknown cursor' }] });
    const all = [...webhooks.values()];
    const items = all.slice(offset, offset + pageSize);
    const next = offset + items.length;
    return answer(200, { items, pagination: { nextCursor: next < all.length ? writeCursor(botId, next) : null } });
  });

  router.patch(WEBHOOKS_PATHS.webhook, express.json({ limit: '64kb' }), async (req: Request, res: Response) => {
    const botId = String(req.params.botId);
    const webhookId = String(req.params.webhookId);
    const idempotencyKey = req.get('idempotency-key') ?? null;
    const call: WebhookCallRecord = { at: Date.now(), method: 'PATCH', botId, webhookId, idempotencyKey, status: 0, applied: false };
    if (!(await admitted(req, res, call, COGNIGY_CONTRACT.patchWebhook.scopes))) return;
    const answer = (status: number, body: object) => {
      call.status = status;
      res.status(status).json(body);
    };
    const webhook = state.bots.get(botId)?.get(webhookId);
    if (webhook === undefined) return answer(404, { error: 'not_found', message: `no webhook ${webhookId} on bot ${botId}` });
    const parsed = COGNIGY_CONTRACT.patchWebhook.request.safeParse({ headers: req.headers, query: req.query, body: req.body });
    if (!parsed.success) return answer(400, { error: 'validation_failed', issues: describeIssues(parsed.error.issues) });
    const { retryPolicy } = parsed.data.body;
    const key = parsed.data.headers['idempotency-key'];
    if (state.applied.some((a) => a.idempotencyKey === key)) {
      return answer(409, { error: 'conflict', message: 'already applied under this Idempotency-Key', webhookId });
    }
    webhook.retryPolicy = { ...retryPolicy };
    state.applied.push({ idempotencyKey: key, botId, webhookId, retryPolicy: { ...retryPolicy }, at: Date.now() });
    call.applied = true;
    if (take(state.faults, 'resetAfterApply')) {
      req.socket.destroy();
      return;
    }
    return answer(200, webhook);
  });

  router.post('/admin/cognigy/bots/:botId/webhooks', express.json({ limit: '2mb' }), (req: Request, res: Response) => {
    const parsed = SeedRequest.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: 'validation_failed', issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
      return;
    }
    res.json({ botId: req.params.botId, webhooks: state.seed(String(req.params.botId), parsed.data) });
  });
  router.get('/admin/cognigy/bots/:botId/webhooks', (req: Request, res: Response) => {
    const botId = String(req.params.botId);
    res.json({ botId, webhooks: [...(state.bots.get(botId)?.values() ?? [])], applied: state.applied.filter((a) => a.botId === botId) });
  });
  router.get('/admin/cognigy/webhooks/calls', (_req: Request, res: Response) => {
    res.json({ calls: state.calls, applied: state.applied });
  });
  router.post('/admin/cognigy/webhooks/faults', express.json(), (req: Request, res: Response) => {
    const parsed = WebhooksFaultRequest.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: 'validation_failed', issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
      return;
    }
    state.inject(parsed.data);
    res.json({ faults: state.faults });
  });
  router.delete('/admin/cognigy/webhooks/faults', (_req: Request, res: Response) => {
    state.clearFaults();
    res.json({ faults: state.faults });
  });
  router.post('/admin/cognigy/webhooks/reset', (_req: Request, res: Response) => {
    state.reset();
    res.json({ status: 'reset' });
  });

  // Unparseable JSON on these routes: a 400 with a JSON answer, as Cognigy would give.
  router.use((error: Error & { status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    res.status(status).json({ error: 'bad_request', message: error.message });
  });

  return { router, state };
}

/** Opaque to callers; bound to the bot so a cursor of one bot is refused on another. */
function writeCursor(botId: string, offset: number): string {
  return Buffer.from(JSON.stringify({ b: botId, o: offset })).toString('base64url');
}

function readCursor(cursor: string, botId: string): number | undefined {
  try {
    const { b, o } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { b?: unknown; o?: unknown };
    return b === botId && typeof o === 'number' && Number.isInteger(o) && o >= 0 ? o : undefined;
  } catch {
    return undefined;
  }
}

function take(faults: WebhooksFaults, key: 'serverErrors' | 'resetAfterApply'): boolean {
  const left = faults[key] ?? 0;
  if (left <= 0) return false;
  faults[key] = left - 1;
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
