import { z } from 'zod';
import { ACK_STATUSES, ERROR_DIRECTIVES } from '../contracts.js';
import { fromWebhookRetryPolicy, RETRY_STRATEGIES, scheduleIssues, WEBHOOK_POLICY_FIELDS } from '../retry-policy-rules.js';

/**
 * The Cognigy REST API as this project uses it, written once: for each endpoint its method, path
 * template, request (headers, query, body) and, for each status code it may answer, the body and
 * headers of that answer. The clients take paths and answer schemas from here, the simulator
 * validates the requests it receives with the request schemas, and the tests hold the clients'
 * requests and the simulator's answers to the same definitions, so neither side can drift alone.
 *
 * The endpoints, payloads and status codes are the ones the design was written from (Cognigy's
 * public API reference does not document these paths). Where that source is silent, the contract
 * states what the clients rely on: error answers are a JSON object with an `error` code and
 * optionally a `message` and field `issues`; OAuth2 details follow RFC 6749 (token endpoint) and
 * RFC 6750 (a 401 to a bearer call names the Bearer scheme in WWW-Authenticate).
 */

export type HttpMethod = 'GET' | 'POST' | 'PATCH';

/** A request as the contract sees it: lower-case header names, the query string's fields, the decoded body. */
export interface RequestParts {
  headers: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}

/** One documented answer: its body and the headers it must carry (lower-case names). */
export interface AnswerContract {
  body: z.ZodType;
  headers: z.ZodType;
}

export interface EndpointContract {
  method: HttpMethod;
  /** The path with `{name}` placeholders, e.g. `/api/v2/sessions/{sessionId}/variables`. */
  path: string;
  /** How the request body is encoded; `none` for a call without a body. */
  encoding: 'json' | 'form' | 'none';
  /** OAuth2 scopes of which any one allows the call (empty: no scope applies). */
  scopes: readonly string[];
  /** Validates `{ headers, query, body }`; issues carry paths such as `headers.idempotency-key` or `body.statusMatrix.0.status`. */
  request: z.ZodType;
  /** Every status code the endpoint may answer. */
  answers: Readonly<Record<number, AnswerContract>>;
}

/** One broken rule, named by the field at fault: a header name, a query field or a dotted body path. */
export interface ContractIssue {
  path: string;
  message: string;
}

/** Cognigy's limit of items in one batch acknowledgment. */
export const MAX_BATCH_ITEMS = 500;
/** The largest page the webhook listing serves. */
export const MAX_WEBHOOK_PAGE_SIZE = 100;

// ---- headers ---------------------------------------------------------------------------------

const HEADER_REQUIRED = 'header required';
const headerValue = () => z.string({ error: HEADER_REQUIRED }).min(1, HEADER_REQUIRED);
const mediaType = (type: string) =>
  headerValue().refine((value) => value.split(';')[0]?.trim().toLowerCase() === type, `expected ${type}`);

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

type Credential = 'bearer' | 'x-api-key' | 'x-cognigy-api-key';
const CREDENTIAL_NAMES: Record<Credential, string> = { bearer: 'a Bearer token', 'x-api-key': 'X-API-Key', 'x-cognigy-api-key': 'X-Cognigy-Api-Key' };

/** Request headers: the fields given, and at least one of the `accepted` credentials. */
function requestHeaders<F extends z.core.$ZodShape>(fields: F, accepted: Credential[]) {
  const headerOf = (c: Credential) => (c === 'bearer' ? 'authorization' : c);
  return z
    .looseObject({
      ...fields,
      authorization: z.string().regex(/^Bearer \S+$/i, 'expected Bearer <token>').optional(),
      'x-api-key': headerValue().optional(),
      'x-cognigy-api-key': headerValue().optional(),
    })
    .superRefine((headers, ctx) => {
      if (accepted.some((c) => headers[headerOf(c)] !== undefined)) return;
      ctx.addIssue({
        code: 'custom',
        path: [headerOf(accepted[0] ?? 'bearer')],
        message: `expected ${accepted.map((c) => CREDENTIAL_NAMES[c]).join(' or ')}`,
      });
    });
}

/** RFC 9110 Retry-After as a sender must write it: delay-seconds or an IMF-fixdate. */
const RetryAfter = z
  .string()
  .regex(
    /^(\d+|(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT)$/,
    'expected delay-seconds or an HTTP-date',
  );

const jsonHeaders = (extra: Record<string, z.ZodType> = {}) => z.looseObject({ 'content-type': mediaType(JSON_TYPE), ...extra });

// ---- answer bodies ---------------------------------------------------------------------------

/** Every 4xx/5xx answer except the token endpoint's 400/401: an error code, optionally a reason and the fields at fault. */
export const ErrorAnswer = z.looseObject({
  error: z.string().min(1),
  message: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** The token endpoint's 400 and 401 (RFC 6749 5.2). */
export const OAuthErrorAnswer = z.looseObject({
  error: z.enum(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']),
  error_description: z.string().optional(),
});

export const TokenAnswer = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  /** Seconds the token lives. */
  expires_in: z.number().int().positive(),
  scope: z.string().optional(),
});

/** Cognigy applies a batch atomically; success is COMPLETED with processedCount + failedCount = batchSize. */
export const BatchAcknowledgeAnswer = z.looseObject({
  batchId: z.string().min(1),
  processedCount: z.number().int().min(0),
  failedCount: z.number().int().min(0),
  status: z.string().min(1),
});

/** A retry policy as a listing shows it. Cognigy may hold values today's rules refuse, so only the types are fixed. */
export const ListedRetryPolicy = z.object({
  enabled: z.boolean(),
  maxAttempts: z.number(),
  backoffStrategy: z.string(),
  baseDelayMs: z.number(),
  maxDelayMs: z.number(),
  maxRetryWindowSeconds: z.number(),
});

export const WebhookAnswer = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  retryPolicy: ListedRetryPolicy.nullish(),
});

/** One page of a bot's webhooks; `nextCursor` is null on the last page. */
export const WebhookPage = z.looseObject({
  items: z.array(WebhookAnswer),
  pagination: z.looseObject({ nextCursor: z.string().min(1).nullable() }),
});

/** Error answers with their headers: Retry-After (optional) on 429 and 503, and on a bearer call's 401 the Bearer challenge. */
function errorAnswers(statuses: number[], bearerChallenge: boolean): Record<number, AnswerContract> {
  const answers: Record<number, AnswerContract> = {};
  for (const status of statuses) {
    const extra: Record<string, z.ZodType> =
      status === 429 || status === 503
        ? { 'retry-after': RetryAfter.optional() }
        : status === 401 && bearerChallenge
          ? { 'www-authenticate': headerValue().regex(/^Bearer\b/i, 'expected a Bearer challenge') }
          : {};
    answers[status] = { body: ErrorAnswer, headers: jsonHeaders(extra) };
  }
  return answers;
}

// ---- request bodies --------------------------------------------------------------------------

const TokenForm = z.looseObject({
  grant_type: z.literal('client_credentials', { error: 'expected client_credentials' }),
  client_id: z.string().min(1).optional(),
  client_secret: z.string().min(1).optional(),
  scope: z.string().optional(),
});

const AckItem = z
  .object({
    webhookId: z.string().min(1).max(256),
    sequenceIndex: z.number().int().min(0),
    status: z.enum(ACK_STATUSES),
    errorDirective: z.enum(ERROR_DIRECTIVES).optional(),
  })
  .superRefine((item, ctx) => {
    if (item.status !== 'ACKNOWLEDGED' && item.errorDirective === undefined) {
      ctx.addIssue({ code: 'custom', path: ['errorDirective'], message: `required when status is ${item.status}` });
    }
    if (item.status === 'ACKNOWLEDGED' && item.errorDirective !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['errorDirective'], message: 'not allowed when status is ACKNOWLEDGED' });
    }
  });

/** The batch-acknowledge body; `maxItems` is Cognigy's limit unless a simulator is told otherwise. */
export function batchAcknowledgeBody(maxItems = MAX_BATCH_ITEMS) {
  return z
    .object({
      idempotencyKey: z.string().min(1).max(255),
      batchSize: z.number().int().min(1).max(maxItems),
      timestamp: z.iso.datetime({ offset: true }),
      statusMatrix: z.array(AckItem).min(1).max(maxItems),
    })
    .superRefine((body, ctx) => {
      if (body.batchSize !== body.statusMatrix.length) {
        ctx.addIssue({ code: 'custom', path: ['batchSize'], message: `is ${body.batchSize} but statusMatrix has ${body.statusMatrix.length} items` });
      }
      const indexes = new Set<number>();
      const webhooks = new Set<string>();
      body.statusMatrix.forEach((item, i) => {
        if (item.sequenceIndex >= body.statusMatrix.length || indexes.has(item.sequenceIndex)) {
          ctx.addIssue({ code: 'custom', path: ['statusMatrix', i, 'sequenceIndex'], message: 'must be unique and below batchSize' });
        }
        if (webhooks.has(item.webhookId)) ctx.addIssue({ code: 'custom', path: ['statusMatrix', i, 'webhookId'], message: 'appears twice' });
        indexes.add(item.sequenceIndex);
        webhooks.add(item.webhookId);
      });
    });
}

/** `{"variables": {...}}` with at least one variable. */
const VariablesBody = z.object({
  variables: z.record(z.string().min(1), z.unknown()).refine((v) => Object.keys(v).length > 0, 'expected at least one variable'),
});

/** A retry policy as a PATCH sets it: exactly these fields, with the types Cognigy stores. */
export const WireRetryPolicy = z
  .object({
    enabled: z.boolean(),
    maxAttempts: z.number().int(),
    backoffStrategy: z.enum(RETRY_STRATEGIES),
    baseDelayMs: z.number().int(),
    maxDelayMs: z.number().int(),
    maxRetryWindowSeconds: z.number().int(),
  })
  .strict();

/** Types first; once they hold, the engine's retry rules (the shared ones), each at the field it concerns. */
const PatchWebhookBody = z.object({ retryPolicy: WireRetryPolicy }).superRefine((body, ctx) => {
  for (const issue of scheduleIssues(fromWebhookRetryPolicy(body.retryPolicy))) {
    ctx.addIssue({ code: 'custom', path: ['retryPolicy', WEBHOOK_POLICY_FIELDS[issue.field]], message: issue.message });
  }
});

const PAGE_SIZE_MESSAGE = `expected an integer from 1 to ${MAX_WEBHOOK_PAGE_SIZE}`;
const ListQuery = z.looseObject({
  pageSize: z.coerce
    .number({ error: PAGE_SIZE_MESSAGE })
    .int({ error: PAGE_SIZE_MESSAGE })
    .min(1, { error: PAGE_SIZE_MESSAGE })
    .max(MAX_WEBHOOK_PAGE_SIZE, { error: PAGE_SIZE_MESSAGE })
    .optional(),
  cursor: z.string().min(1, 'expected an opaque cursor from the previous page').optional(),
});

const NoQuery = z.looseObject({});

// ---- endpoints -------------------------------------------------------------------------------

const tokenRequest = z
  .object({
    headers: z.looseObject({
      'content-type': mediaType(FORM_TYPE),
      authorization: z.string().regex(/^Basic \S+$/i, 'expected Basic <credentials>').optional(),
    }),
    query: NoQuery,
    body: TokenForm,
  })
  .superRefine(({ headers, body }, ctx) => {
    // RFC 6749 2.3.1: client credentials in the form body, or as HTTP Basic.
    const inForm = body.client_id !== undefined && body.client_secret !== undefined;
    if (!inForm && headers.authorization === undefined) {
      ctx.addIssue({ code: 'custom', path: ['body', 'client_id'], message: 'client credentials required: client_id and client_secret, or HTTP Basic' });
    }
  });

/** The batch-acknowledge request; `maxItems` as for {@link batchAcknowledgeBody}. */
export function batchAcknowledgeRequest(maxItems = MAX_BATCH_ITEMS) {
  return z
    .object({
      headers: requestHeaders({ 'content-type': mediaType(JSON_TYPE), 'idempotency-key': headerValue() }, ['bearer', 'x-api-key']),
      query: NoQuery,
      body: batchAcknowledgeBody(maxItems),
    })
    .superRefine(({ headers, body }, ctx) => {
      if (headers['idempotency-key'] !== body.idempotencyKey) {
        ctx.addIssue({ code: 'custom', path: ['headers', 'idempotency-key'], message: 'must be sent and equal idempotencyKey' });
      }
    });
}

export const COGNIGY_CONTRACT = {
  /** OAuth2 client credentials (RFC 6749 4.4), form encoded. */
  token: {
    method: 'POST',
    path: '/api/v1/auth/oauth/token',
    encoding: 'form',
    scopes: [],
    request: tokenRequest,
    answers: {
      200: { body: TokenAnswer, headers: jsonHeaders() },
      400: { body: OAuthErrorAnswer, headers: jsonHeaders() },
      401: { body: OAuthErrorAnswer, headers: jsonHeaders() },
      ...errorAnswers([500, 503], false),
    },
  },
  /** Acknowledges up to 500 webhook executions at once; a repeated Idempotency-Key is answered 409. */
  batchAcknowledge: {
    method: 'POST',
    path: '/api/v1/webhooks/batch-acknowledge',
    encoding: 'json',
    scopes: ['webhook:write'],
    request: batchAcknowledgeRequest(),
    answers: {
      200: { body: BatchAcknowledgeAnswer, headers: jsonHeaders() },
      ...errorAnswers([400, 401, 403, 409, 429, 500, 503], true),
    },
  },
  /** The runtime API: merges variables into a live session; 404 once the session has ended. */
  sessionVariables: {
    method: 'POST',
    path: '/api/v2/sessions/{sessionId}/variables',
    encoding: 'json',
    scopes: ['session:write'],
    request: z.object({
      headers: requestHeaders({ 'content-type': mediaType(JSON_TYPE) }, ['x-cognigy-api-key', 'bearer']),
      query: NoQuery,
      body: VariablesBody,
    }),
    answers: {
      // The answer's body is not described; the client reads none of it.
      200: { body: z.looseObject({}), headers: jsonHeaders() },
      201: { body: z.looseObject({}), headers: jsonHeaders() },
      ...errorAnswers([400, 401, 403, 404, 429, 500, 503], false),
    },
  },
  /** A bot's webhooks, a page at a time by an opaque cursor. */
  listWebhooks: {
    method: 'GET',
    path: '/api/v2/bots/{botId}/webhooks',
    encoding: 'none',
    scopes: ['bot:webhooks:read', 'bot:webhooks:manage'],
    request: z.object({ headers: requestHeaders({}, ['bearer']), query: ListQuery, body: z.undefined({ error: 'expected no body' }) }),
    answers: {
      200: { body: WebhookPage, headers: jsonHeaders() },
      ...errorAnswers([400, 401, 403, 404, 429, 500, 503], true),
    },
  },
  /** Sets one webhook's retry policy; a repeated Idempotency-Key is answered 409 without applying again. */
  patchWebhook: {
    method: 'PATCH',
    path: '/api/v2/bots/{botId}/webhooks/{webhookId}',
    encoding: 'json',
    scopes: ['bot:webhooks:manage'],
    request: z.object({
      headers: requestHeaders({ 'content-type': mediaType(JSON_TYPE), 'idempotency-key': headerValue() }, ['bearer']),
      query: NoQuery,
      body: PatchWebhookBody,
    }),
    answers: {
      200: { body: WebhookAnswer, headers: jsonHeaders() },
      ...errorAnswers([400, 401, 403, 404, 409, 429, 500, 503], true),
    },
  },
} as const satisfies Record<string, EndpointContract>;

export type EndpointName = keyof typeof COGNIGY_CONTRACT;

// ---- helpers ---------------------------------------------------------------------------------

/** `template` with each `{name}` replaced by its URL-encoded parameter. */
export function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for ${placeholder} in ${template}`);
    return encodeURIComponent(value);
  });
}

/** The broken rules of a request, each named by the field at fault; empty when it conforms. */
export function requestIssues(request: z.ZodType, parts: RequestParts): ContractIssue[] {
  const parsed = request.safeParse({ headers: parts.headers, query: parts.query ?? {}, body: parts.body });
  return parsed.success ? [] : describeIssues(parsed.error.issues);
}

/**
 * Issue paths as a caller reads them: a header by its usual spelling (`Idempotency-Key`), a query
 * or body field by its dotted path (`statusMatrix.0.status`).
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): ContractIssue[] {
  return issues.map((issue) => {
    const [part, ...rest] = issue.path.map(String);
    const path = part === 'headers' && rest[0] !== undefined ? headerName(rest[0]) : rest.join('.');
    return { path, message: issue.message };
  });
}

const HEADER_SPELLINGS: Record<string, string> = { 'x-api-key': 'X-API-Key', 'www-authenticate': 'WWW-Authenticate' };

export function headerName(lowerCase: string): string {
  return HEADER_SPELLINGS[lowerCase] ?? lowerCase.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}
