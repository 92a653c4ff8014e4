import { parseJson, type CognigyAuth, type FetchLike } from '../../shared/cognigy/auth.js';
import { ErrorAnswer } from '../../shared/cognigy/contract.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { parseRetryAfter } from '../../shared/cognigy/retry-after.js';
import { errorMessage, NonRetriableError } from '../../shared/errors.js';

export interface SessionsClientSettings {
  baseUrl: string;
  /** SESSION_VARIABLES_PATH, with a {sessionId} placeholder. */
  variablesPath: string;
  timeoutMs: number;
}

/** 404: the session is gone (ended or expired); its variables can never be written. Dead-lettered. */
export class SessionGone extends NonRetriableError {}

/** Another 4xx: Cognigy refuses this write as it is. Dead-lettered with the answer. */
export class WriteRefused extends NonRetriableError {
  constructor(
    readonly status: number,
    readonly answer: string,
  ) {
    super(`Cognigy refused the session variables with ${status}: ${answer}`);
  }
}

/** The writer is stopping; the result stays uncommitted and is written after the next start. */
export class WriteAborted extends NonRetriableError {}

/** The reason an error answer may give. */
const ERROR_REASON = ErrorAnswer.pick({ message: true });

/**
 * What an answer means: 2xx written; 429 rate limited (Retry-After honoured); 401/403 refused
 * credentials (the writer stops rather than burning retries); 404 session gone and other 4xx
 * refused (both dead-lettered); 408, 5xx and network errors retried with backoff.
 */
export function classifyVariablesAnswer(answer: { status: number; body: string; retryAfter: string | null }, now: number): void {
  const { status, body } = answer;
  if (status >= 200 && status < 300) return;
  if (status === 429) throw new CognigyRateLimited(parseRetryAfter(answer.retryAfter, now));
  if (status === 401 || status === 403) {
    const reason = ERROR_REASON.safeParse(parseJson(body)).data?.message;
    throw new CognigyUnauthorized(`Cognigy refused the credentials with ${status}${reason === undefined ? '' : `: ${reason}`}`);
  }
  if (status === 404) throw new SessionGone(`Cognigy answered 404: ${body.slice(0, 300)}`);
  if (status === 408 || status === 425) throw new CognigyUnavailable(`Cognigy answered ${status}`, status);
  if (status >= 400 && status < 500) throw new WriteRefused(status, body.slice(0, 2_000));
  throw new CognigyUnavailable(`Cognigy answered ${status}`, status);
}

/** `POST {base}/api/v2/sessions/{sessionId}/variables` with `{"variables": {...}}`: one attempt (one token refresh on 401). */
export class SessionsClient {
  private readonly fetch: FetchLike;

  constructor(
    private readonly settings: SessionsClientSettings,
    private readonly auth: CognigyAuth,
    deps: { fetch?: FetchLike } = {},
  ) {
    this.fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  }

  async write(sessionId: string, variables: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ variables });
    let headers = await this.auth.headers();
    let answer = await this.post(sessionId, body, headers, signal);
    if (answer.status === 401 && this.auth.invalidate(headers)) {
      headers = await this.auth.headers();
      answer = await this.post(sessionId, body, headers, signal);
    }
    classifyVariablesAnswer(answer, Date.now());
  }

  private async post(sessionId: string, body: string, auth: Record<string, string>, signal: AbortSignal) {
    if (signal.aborted) throw new WriteAborted('the session writer is stopping');
    const url = `${this.settings.baseUrl}${this.settings.variablesPath.replace('{sessionId}', encodeURIComponent(sessionId))}`;
    try {
      const response = await this.fetch(url, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), signal]),
      });
      return { status: response.status, body: await response.text(), retryAfter: response.headers.get('retry-after') };
    } catch (error) {
      if (signal.aborted) throw new WriteAborted('the session writer is stopping', { cause: error });
      throw new CognigyUnavailable(`session variables call failed: ${errorMessage(error)}`, undefined, { cause: error });
    }
  }
}
