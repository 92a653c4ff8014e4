import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { batchAcknowledgeRequest, COGNIGY_CONTRACT, describeIssues, requestIssues, type ContractIssue } from '../../shared/cognigy/contract.js';

/**
 * Cognigy platform API half of the simulator: the OAuth2 token endpoint, batch-acknowledge and
 * session variables, validating what it receives with the shared contract
 * (shared/cognigy/contract.ts), with fault injection and a record of everything received
 * (in-process `state`, or `GET /admin/cognigy/...`).
 */

/** Credentials the simulator accepts unless told otherwise (local stack and tests). */
export const SIMULATOR_CREDENTIALS = {
  clientId: 'cognigy-stream',
  clientSecret: 'local-client-secret',
  apiKey: 'local-api-key',
} as const;

/** The contract's paths as express routes (`{sessionId}` becomes `:sessionId`). */
export const COGNIGY_PATHS = {
  token: expressRoute(COGNIGY_CONTRACT.token.path),
  batchAcknowledge: expressRoute(COGNIGY_CONTRACT.batchAcknowledge.path),
  sessionVariables: expressRoute(COGNIGY_CONTRACT.sessionVariables.path),
} as const;

export function expressRoute(template: string): string {
  return template.replace(/\{(\w+)\}/g, ':$1');
}

export interface CognigyApiSettings {
  clientId: string;
  clientSecret: string;
  /** Lifetime of issued tokens, in seconds (`expires_in`). */
  tokenLifetimeS: number;
  /** Accepted as `X-API-Key` on batch-acknowledge and as `X-Cognigy-Api-Key` on session variables. */
  apiKeys: string[];
  /** Cognigy's limit of items per batch. */
  maxBatch: number;
}

/** Faults applied to the next calls; counts go down as calls use them. */
export interface CognigyFaults {
  /** The next `count` batch calls answer 429, with `Retry-After: retryAfterS` when given. */
  rateLimit?: { count: number; retryAfterS?: number };
  /** The next n batch calls answer 500. */
  serverErrors?: number;
  /** The next n batch calls answer 400. */
  badRequest?: number;
  /** The next n batch calls answer 409 without applying anything. */
  conflict?: number;
  /** The next n batch calls answer 200 with counts that do not add up to the batch, applying nothing. */
  countMismatch?: number;
  /** The next `count` batch calls are applied, and answered only `ms` later. */
  delayAfterApply?: { count: number; ms: number };
  /** Every call (token included) waits this long before it is handled. */
  latencyMs?: number;
  /** Until `until` (epoch ms) every call answers 503 (`status`) or has its connection reset (`reset`). */
  outage?: { until: number; mode: 'status' | 'reset' };
  /** The next `count` session-variable calls answer 429, with `Retry-After: retryAfterS` when given. */
  variablesRateLimit?: { count: number; retryAfterS?: number };
  /** The next n session-variable calls answer 500. */
  variablesServerErrors?: number;
}

export const FaultRequest = z.object({
  rateLimit: z.object({ count: z.number().int().min(0), retryAfterS: z.number().min(0).optional() }).optional(),
  serverErrors: z.number().int().min(0).optional(),
  badRequest: z.number().int().min(0).optional(),
  conflict: z.number().int().min(0).optional(),
  countMismatch: z.number().int().min(0).optional(),
  delayAfterApply: z.object({ count: z.number().int().min(0), ms: z.number().int().min(0) }).optional(),
  latencyMs: z.number().int().min(0).optional(),
  outage: z.object({ durationMs: z.number().int().min(0), mode: z.enum(['status', 'reset']).default('status') }).optional(),
  /** Revokes every token issued so far: the next call with one of them is answered 401. */
  expireTokens: z.boolean().optional(),
  variablesRateLimit: z.object({ count: z.number().int().min(0), retryAfterS: z.number().min(0).optional() }).optional(),
  variablesServerErrors: z.number().int().min(0).optional(),
  /** Sessions that no longer exist: writing their variables answers 404. */
  goneSessions: z.array(z.string().min(1)).optional(),
});
export type FaultRequest = z.input<typeof FaultRequest>;

export interface TokenRecord {
  token: string;
  clientId: string;
  scope: string;
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface TokenRequestRecord {
  at: number;
  clientId: string;
  status: number;
}

export interface BatchCallRecord {
  /** Arrival time (epoch ms). */
  at: number;
  answeredAt: number | null;
  idempotencyKey: string | null;
  /** The status answered; 0 while unanswered, or when the caller was gone before the answer. */
  status: number;
  /** Whether this call applied its batch. */
  applied: boolean;
  batchSize: number;
  auth: 'bearer' | 'api-key' | 'none';
  /** The bearer token used, if any. */
  token: string | null;
  webhookIds: string[];
}

export interface SessionVariablesCall {
  /** Arrival time (epoch ms). */
  at: number;
  sessionId: string;
  status: number;
  auth: 'bearer' | 'api-key' | 'none';
  /** The variables sent, when the body was valid. */
  variables: Record<string, unknown> | null;
}

export interface AppliedBatch {
  batchId: string;
  idempotencyKey: string;
  at: number;
  size: number;
}

export interface CognigyApiState {
  settings: CognigyApiSettings;
  faults: CognigyFaults;
  tokens: TokenRecord[];
  tokenRequests: TokenRequestRecord[];
  batchCalls: BatchCallRecord[];
  /** Batches applied, by Idempotency-Key. */
  applied: Map<string, AppliedBatch>;
  /** How often each webhookId was acknowledged (applied in a batch). */
  acknowledged: Map<string, number>;
  /** The last status each webhookId was acknowledged with. */
  ackStatuses: Map<string, { status: string; errorDirective: string | null }>;
  /** Every session's variables as written so far (later writes merged over earlier ones). */
  sessionVariables: Map<string, Record<string, unknown>>;
  /** Every session-variable call, in arrival order. */
  sessionCalls: SessionVariablesCall[];
  /** Sessions answered 404 (gone). */
  goneSessions: Set<string>;
  /** Adds faults (the admin endpoint's body). */
  inject(request: FaultRequest): void;
  clearFaults(): void;
  /** Forgets everything received and clears the faults; settings stay. */
  reset(): void;
}

/** The batch request as the contract states it, with the simulator's item limit (cached per limit). */
const batchRequests = new Map<number, ReturnType<typeof batchAcknowledgeRequest>>();
function batchRequest(maxBatch: number): ReturnType<typeof batchAcknowledgeRequest> {
  let request = batchRequests.get(maxBatch);
  if (request === undefined) batchRequests.set(maxBatch, (request = batchAcknowledgeRequest(maxBatch)));
  return request;
}

/** The 400 answer naming every field at fault. */
const validationFailed = (issues: ContractIssue[]) => ({ error: 'validation_failed', issues });

export function cognigyApi(settings: Partial<CognigyApiSettings> = {}): { router: Router; state: CognigyApiState } {
  const state: CognigyApiState = {
    settings: {
      clientId: SIMULATOR_CREDENTIALS.clientId,
      clientSecret: SIMULATOR_CREDENTIALS.clientSecret,
      tokenLifetimeS: 3_600,
      apiKeys: [SIMULATOR_CREDENTIALS.apiKey],
      maxBatch: 500,
      ...settings,
    },
    faults: {},
    tokens: [],
    tokenRequests: [],
    batchCalls: [],
    applied: new Map(),
    acknowledged: new Map(),
    ackStatuses: new Map(),
    sessionVariables: new Map(),
    sessionCalls: [],
    goneSessions: new Set(),
    inject(request) {
      const parsed = FaultRequest.parse(request);
      const { outage, expireTokens, goneSessions, ...counted } = parsed;
      Object.assign(state.faults, counted);
      for (const id of goneSessions ?? []) state.goneSessions.add(id);
      if (outage !== undefined) state.faults.outage = { until: Date.now() + outage.durationMs, mode: outage.mode };
      if (expireTokens === true) for (const t of state.tokens) t.revoked = true;
    },
    clearFaults() {
      state.faults = {};
    },
    reset() {
      state.faults = {};
      state.tokens = [];
      state.tokenRequests = [];
      state.batchCalls = [];
      state.applied.clear();
      state.acknowledged.clear();
      state.ackStatuses.clear();
      state.sessionVariables.clear();
      state.sessionCalls = [];
      state.goneSessions.clear();
    },
  };

  const router = Router();
  const faultsFirst = async (req: Request, res: Response, next: NextFunction) => {
    const { latencyMs, outage } = state.faults;
    if (latencyMs) await sleep(latencyMs);
    if (outage !== undefined && Date.now() < outage.until) {
      if (outage.mode === 'reset') {
        req.socket.destroy();
        return;
      }
      res.status(503).set('Retry-After', String(Math.ceil((outage.until - Date.now()) / 1_000))).json({ error: 'service_unavailable' });
      return;
    }
    next();
  };

  router.post(COGNIGY_PATHS.token, faultsFirst, express.urlencoded({ extended: false, limit: '16kb' }), (req: Request, res: Response) => {
    const form = (req.body ?? {}) as Record<string, string | undefined>;
    const basic = basicCredentials(req.headers.authorization);
    const clientId = form.client_id ?? basic?.id ?? '';
    const clientSecret = form.client_secret ?? basic?.secret ?? '';
    const answer = (status: number, body: object) => {
      state.tokenRequests.push({ at: Date.now(), clientId, status });
      res.status(status).set('Cache-Control', 'no-store').json(body);
    };
    const refuseClient = () => {
      res.set('WWW-Authenticate', 'Basic realm="cognigy"');
      return answer(401, { error: 'invalid_client' });
    };
    // RFC 6749 5.2 names the fault by an error code: the form's type, the grant, or the client.
    const [issue] = requestIssues(COGNIGY_CONTRACT.token.request, { headers: req.headers, body: form });
    if (issue?.path === 'Content-Type') return answer(400, { error: 'invalid_request', error_description: 'expected a form-encoded body' });
    if (issue?.path === 'grant_type' && form.grant_type !== undefined) {
      return answer(400, { error: 'unsupported_grant_type', error_description: `grant_type: ${issue.message}` });
    }
    if (issue?.path === 'client_id' || issue?.path === 'client_secret' || issue?.path === 'Authorization') return refuseClient();
    if (issue !== undefined) return answer(400, { error: 'invalid_request', error_description: `${issue.path}: ${issue.message}` });
    if (!safeEqual(clientId, state.settings.clientId) || !safeEqual(clientSecret, state.settings.clientSecret)) return refuseClient();
    const now = Date.now();
    const token: TokenRecord = {
      token: randomBytes(24).toString('base64url'),
      clientId,
      scope: form.scope ?? '',
      issuedAt: now,
      expiresAt: now + state.settings.tokenLifetimeS * 1_000,
      revoked: false,
    };
    state.tokens.push(token);
    return answer(200, { access_token: token.token, token_type: 'Bearer', expires_in: state.settings.tokenLifetimeS, scope: token.scope });
  });

  router.post(COGNIGY_PATHS.batchAcknowledge, faultsFirst, express.json({ limit: '2mb' }), async (req: Request, res: Response) => {
    const call: BatchCallRecord = {
      at: Date.now(),
      answeredAt: null,
      idempotencyKey: req.get('idempotency-key') ?? null,
      status: 0,
      applied: false,
      batchSize: 0,
      auth: 'none',
      token: null,
      webhookIds: [],
    };
    state.batchCalls.push(call);
    const answer = (status: number, body: object, headers: Record<string, string> = {}) => {
      // A client gone while the answer was delayed was never answered: status stays 0.
      if (!res.writable || req.socket.destroyed) return;
      call.status = status;
      call.answeredAt = Date.now();
      res.status(status).set(headers).json(body);
    };

    const who = authorise(state, req);
    call.auth = who.auth;
    call.token = who.token;
    if (!who.ok) return answer(401, { error: 'unauthorized', message: 'a valid Bearer token or X-API-Key is required' }, { 'WWW-Authenticate': 'Bearer' });

    const faults = state.faults;
    if (faults.rateLimit && faults.rateLimit.count > 0) {
      faults.rateLimit.count -= 1;
      const headers: Record<string, string> = faults.rateLimit.retryAfterS === undefined ? {} : { 'Retry-After': String(faults.rateLimit.retryAfterS) };
      return answer(429, { error: 'too_many_requests' }, headers);
    }
    if (take(faults, 'serverErrors')) return answer(500, { error: 'internal_error' });
    if (take(faults, 'badRequest')) return answer(400, { error: 'bad_request', message: 'injected fault' });

    const parsed = batchRequest(state.settings.maxBatch).safeParse({ headers: req.headers, query: req.query, body: req.body });
    if (!parsed.success) return answer(400, validationFailed(describeIssues(parsed.error.issues)));
    const body = parsed.data.body;
    call.batchSize = body.batchSize;
    call.webhookIds = body.statusMatrix.map((i) => i.webhookId);
    const already = state.applied.get(body.idempotencyKey);
    if (already !== undefined) return answer(409, { error: 'conflict', message: 'batch already applied', batchId: already.batchId });
    if (take(faults, 'conflict')) return answer(409, { error: 'conflict', message: 'injected fault' });
    if (take(faults, 'countMismatch')) {
      return answer(200, { batchId: randomUUID(), processedCount: body.batchSize - 1, failedCount: 0, status: 'COMPLETED' });
    }

    const batchId = randomUUID();
    state.applied.set(body.idempotencyKey, { batchId, idempotencyKey: body.idempotencyKey, at: Date.now(), size: body.batchSize });
    call.applied = true;
    for (const item of body.statusMatrix) {
      state.acknowledged.set(item.webhookId, (state.acknowledged.get(item.webhookId) ?? 0) + 1);
      state.ackStatuses.set(item.webhookId, { status: item.status, errorDirective: item.errorDirective ?? null });
    }
    if (faults.delayAfterApply && faults.delayAfterApply.count > 0) {
      faults.delayAfterApply.count -= 1;
      await sleep(faults.delayAfterApply.ms);
    }
    return answer(200, { batchId, processedCount: body.batchSize, failedCount: 0, status: 'COMPLETED' });
  });

  router.post(COGNIGY_PATHS.sessionVariables, faultsFirst, express.json({ limit: '256kb' }), (req: Request, res: Response) => {
    const call: SessionVariablesCall = { at: Date.now(), sessionId: String(req.params.sessionId), status: 0, auth: 'none', variables: null };
    state.sessionCalls.push(call);
    const answer = (status: number, body: object, headers: Record<string, string> = {}) => {
      call.status = status;
      res.status(status).set(headers).json(body);
    };
    // The runtime API takes its key as X-Cognigy-Api-Key (not X-API-Key); a bearer token from the token endpoint works too.
    const key = req.get('x-cognigy-api-key');
    const who = key === undefined ? authorise(state, req, 'bearer-only') : { ok: state.settings.apiKeys.some((k) => safeEqual(key, k)), auth: 'api-key' as const };
    call.auth = who.auth;
    if (!who.ok) return answer(401, { error: 'unauthorized', message: 'a valid X-Cognigy-Api-Key or Bearer token is required' });

    const faults = state.faults;
    if (faults.variablesRateLimit && faults.variablesRateLimit.count > 0) {
      faults.variablesRateLimit.count -= 1;
      const retryAfterS = faults.variablesRateLimit.retryAfterS;
      return answer(429, { error: 'too_many_requests' }, retryAfterS === undefined ? {} : { 'Retry-After': String(retryAfterS) });
    }
    if ((faults.variablesServerErrors ?? 0) > 0) {
      faults.variablesServerErrors = (faults.variablesServerErrors ?? 0) - 1;
      return answer(500, { error: 'internal_error' });
    }
    const parsed = COGNIGY_CONTRACT.sessionVariables.request.safeParse({ headers: req.headers, query: req.query, body: req.body });
    if (!parsed.success) return answer(400, validationFailed(describeIssues(parsed.error.issues)));
    if (state.goneSessions.has(call.sessionId)) return answer(404, { error: 'not_found', message: `session ${call.sessionId} does not exist` });
    call.variables = parsed.data.body.variables;
    const variables = { ...(state.sessionVariables.get(call.sessionId) ?? {}), ...parsed.data.body.variables };
    state.sessionVariables.set(call.sessionId, variables);
    return answer(200, { sessionId: call.sessionId, variables });
  });

  router.post('/admin/cognigy/faults', express.json(), (req: Request, res: Response) => {
    const parsed = FaultRequest.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: 'validation_failed', issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
      return;
    }
    state.inject(parsed.data);
    res.json({ faults: state.faults });
  });
  router.delete('/admin/cognigy/faults', (_req: Request, res: Response) => {
    state.clearFaults();
    res.json({ faults: state.faults });
  });
  router.patch('/admin/cognigy/settings', express.json(), (req: Request, res: Response) => {
    const parsed = z
      .object({ tokenLifetimeS: z.number().int().min(1).optional(), maxBatch: z.number().int().min(1).optional() })
      .safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: 'validation_failed' });
      return;
    }
    Object.assign(state.settings, parsed.data);
    res.json({ tokenLifetimeS: state.settings.tokenLifetimeS, maxBatch: state.settings.maxBatch });
  });
  router.post('/admin/cognigy/reset', (_req: Request, res: Response) => {
    state.reset();
    res.json({ status: 'reset' });
  });
  router.get('/admin/cognigy/acknowledged', (_req: Request, res: Response) => {
    const counts = Object.fromEntries(state.acknowledged);
    const duplicates = [...state.acknowledged].filter(([, n]) => n > 1).map(([id]) => id);
    res.json({ total: state.acknowledged.size, duplicates, counts, statuses: Object.fromEntries(state.ackStatuses) });
  });
  router.get('/admin/cognigy/batches', (_req: Request, res: Response) => {
    res.json({ calls: state.batchCalls, applied: [...state.applied.values()] });
  });
  router.get('/admin/cognigy/tokens', (_req: Request, res: Response) => {
    res.json({ tokens: state.tokens, requests: state.tokenRequests });
  });
  router.get('/admin/cognigy/session-calls', (_req: Request, res: Response) => {
    res.json({ calls: state.sessionCalls });
  });
  router.get('/admin/cognigy/sessions/:sessionId/variables', (req: Request, res: Response) => {
    res.json({ sessionId: req.params.sessionId, variables: state.sessionVariables.get(String(req.params.sessionId)) ?? {} });
  });

  // Unparseable JSON or form bodies on these routes: a 400 with a JSON answer, as Cognigy would give.
  router.use((error: Error & { status?: number; type?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 500;
    res.status(status).json({ error: status === 413 ? 'payload_too_large' : 'bad_request', message: error.message });
  });

  return { router, state };
}

/** A live bearer token from the token endpoint, or (unless `bearer-only`) a key in X-API-Key. */
function authorise(state: CognigyApiState, req: Request, accept: 'bearer-or-api-key' | 'bearer-only' = 'bearer-or-api-key'): { ok: boolean; auth: BatchCallRecord['auth']; token: string | null } {
  const apiKey = accept === 'bearer-only' ? undefined : req.get('x-api-key');
  if (apiKey !== undefined) return { ok: state.settings.apiKeys.some((k) => safeEqual(apiKey, k)), auth: 'api-key', token: null };
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (bearer === undefined) return { ok: false, auth: 'none', token: null };
  const now = Date.now();
  const token = state.tokens.find((t) => t.token === bearer);
  return { ok: token !== undefined && !token.revoked && now < token.expiresAt, auth: 'bearer', token: bearer };
}

function take(faults: CognigyFaults, name: 'serverErrors' | 'badRequest' | 'conflict' | 'countMismatch'): boolean {
  const left = faults[name] ?? 0;
  if (left <= 0) return false;
  faults[name] = left - 1;
  return true;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
