import { handleWhen, retry } from 'cockatiel';
import { submitBackoff } from '../../shared/cognigy/backoff.js';
import { parseJson, type CognigyAuth, type FetchLike } from '../../shared/cognigy/auth.js';
import { COGNIGY_CONTRACT, fillPath, MAX_WEBHOOK_PAGE_SIZE, WebhookPage } from '../../shared/cognigy/contract.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { parseRetryAfter } from '../../shared/cognigy/retry-after.js';
import { errorMessage, NonRetriableError } from '../../shared/errors.js';
import type { WebhookRetryPolicy } from '../../shared/retry-policy-rules.js';
import type { Webhook } from './retry-policy-plan.js';

/** Pages as large as Cognigy's webhook listing serves. */
export const PAGE_SIZE = MAX_WEBHOOK_PAGE_SIZE;

export interface WebhooksClientSettings {
  baseUrl: string;
  timeoutMs: number;
  /** Calls per request, the first included, while Cognigy answers 429, 5xx or not at all. */
  attempts: number;
  /** Backoff when Cognigy gave no Retry-After: exponential with jitter, capped. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this ends the command rather than leaving it waiting. */
  maxRetryAfterMs: number;
  /** The scope the token was asked for, named when Cognigy answers 403. */
  scope: string;
}

/** Cognigy refused the request itself (400, 404, ...): sending it again cannot help. */
export class CognigyRefused extends NonRetriableError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Cognigy answered something this client cannot read. */
export class UnexpectedAnswer extends NonRetriableError {}

/** A call that failed for good, named by what it was doing; `cause` is the last attempt's error. */
export class CallFailed extends NonRetriableError {}

/** A wait before the next attempt of one call, reported so the operator sees why the command pauses. */
export interface RetryNotice {
  call: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

interface Answer {
  status: number;
  body: string;
}

/**
 * Cognigy's webhook admin API: every page of a bot's webhooks, and one PATCH of a webhook's retry
 * policy. Each call is retried on 429 (waiting what Retry-After says), 5xx and network errors, a
 * bounded number of times; 401 refreshes the token once; anything else ends the call.
 */
export class WebhooksClient {
  private readonly fetch: FetchLike;

  constructor(
    private readonly settings: WebhooksClientSettings,
    private readonly auth: CognigyAuth,
    private readonly deps: { fetch?: FetchLike; onRetry?: (notice: RetryNotice) => void } = {},
  ) {
    this.fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  }

  async list(botId: string): Promise<Webhook[]> {
    const webhooks: Webhook[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
      if (cursor !== null) query.set('cursor', cursor);
      const answer = await this.call(`list webhooks of bot ${botId}`, 'GET', `${fillPath(COGNIGY_CONTRACT.listWebhooks.path, { botId })}?${query}`);
      const page = WebhookPage.safeParse(parseJson(answer.body));
      if (!page.success) {
        const issue = page.error.issues[0];
        throw new UnexpectedAnswer(`unexpected webhook listing from Cognigy: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
      }
      for (const item of page.data.items) webhooks.push({ id: item.id, name: item.name ?? null, retryPolicy: item.retryPolicy ?? null });
      cursor = page.data.pagination.nextCursor;
      if (cursor !== null && seen.has(cursor)) throw new UnexpectedAnswer(`Cognigy returned the cursor ${cursor} twice; stopped listing`);
      if (cursor !== null) seen.add(cursor);
    } while (cursor !== null);
    return webhooks;
  }

  /** `already applied`: Cognigy answered 409, having applied this Idempotency-Key before. */
  async patch(botId: string, webhookId: string, policy: WebhookRetryPolicy, idempotencyKey: string): Promise<'applied' | 'already applied'> {
    const path = fillPath(COGNIGY_CONTRACT.patchWebhook.path, { botId, webhookId });
    const answer = await this.call(`PATCH webhook ${webhookId}`, 'PATCH', path, { body: { retryPolicy: policy }, idempotencyKey });
    return answer.status === 409 ? 'already applied' : 'applied';
  }

  private async call(label: string, method: 'GET' | 'PATCH', path: string, write?: { body: unknown; idempotencyKey: string }): Promise<Answer> {
    const { attempts, baseDelayMs, maxDelayMs, maxRetryAfterMs } = this.settings;
    const retriable = (error: unknown) =>
      error instanceof CognigyUnavailable || (error instanceof CognigyRateLimited && (error.retryAfterMs ?? 0) <= maxRetryAfterMs);
    const policy = retry(handleWhen(retriable), { maxAttempts: attempts - 1, backoff: submitBackoff({ baseDelayMs, maxDelayMs }) });
    policy.onRetry((event) => {
      const reason = 'error' in event ? errorMessage(event.error) : 'unexpected answer';
      this.deps.onRetry?.({ call: label, attempt: event.attempt, delayMs: Math.round(event.delay), reason });
    });
    try {
      return await policy.execute(() => this.authorised(method, path, write));
    } catch (error) {
      const why = retriable(error)
        ? `; gave up after ${attempts} attempts`
        : error instanceof CognigyRateLimited
          ? `: longer than the ${maxRetryAfterMs / 1_000} s this command waits; run it again later`
          : '';
      throw new CallFailed(`${label}: ${errorMessage(error)}${why}`, { cause: error });
    }
  }

  /** One attempt, with one token refresh when Cognigy answers 401. */
  private async authorised(method: string, path: string, write?: { body: unknown; idempotencyKey: string }): Promise<Answer> {
    let headers = await this.auth.headers();
    let answer = await this.send(method, path, headers, write);
    if (answer.status === 401 && this.auth.invalidate(headers)) {
      headers = await this.auth.headers();
      answer = await this.send(method, path, headers, write);
    }
    return this.classify(answer, method === 'PATCH');
  }

  private async send(method: string, path: string, auth: Record<string, string>, write?: { body: unknown; idempotencyKey: string }): Promise<Answer & { retryAfter: string | null }> {
    const headers: Record<string, string> = { ...auth, accept: 'application/json' };
    if (write !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'idempotency-key': write.idempotencyKey });
    try {
      const response = await this.fetch(`${this.settings.baseUrl}${path}`, {
        method,
        headers,
        body: write === undefined ? undefined : JSON.stringify(write.body),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      return { status: response.status, body: await response.text(), retryAfter: response.headers.get('retry-after') };
    } catch (error) {
      throw new CognigyUnavailable(`${method} ${path} failed: ${errorMessage(error)}`, undefined, { cause: error });
    }
  }

  /** What an answer means, decided once: 2xx (and 409 to a PATCH) is done, 429/5xx retried, the rest fails. */
  private classify(answer: Answer & { retryAfter: string | null }, isPatch: boolean): Answer {
    const { status, body } = answer;
    if ((status >= 200 && status < 300) || (status === 409 && isPatch)) return answer;
    if (status === 429) throw new CognigyRateLimited(parseRetryAfter(answer.retryAfter, Date.now()));
    if (status === 401) throw new CognigyUnauthorized('Cognigy refused the token with 401: check COGNIGY_CLIENT_ID and COGNIGY_CLIENT_SECRET');
    if (status === 403) {
      throw new CognigyUnauthorized(`Cognigy answered 403: the OAuth2 client is not allowed scope ${this.settings.scope} (COGNIGY_ADMIN_OAUTH_SCOPE) on this bot`);
    }
    if (status === 408 || status === 425 || status >= 500) throw new CognigyUnavailable(`Cognigy answered ${status}`, status);
    const hint = status === 404 ? ' (does the bot or webhook exist, and is COGNIGY_BASE_URL right?)' : '';
    throw new CognigyRefused(status, `Cognigy answered ${status}${hint}: ${body.slice(0, 500)}`);
  }
}
