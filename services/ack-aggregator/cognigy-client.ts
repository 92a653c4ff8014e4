import { errorMessage } from '../../shared/errors.js';
import { parseJson, type CognigyAuth, type FetchLike } from '../../shared/cognigy/auth.js';
import { BatchAcknowledgeAnswer } from '../../shared/cognigy/contract.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { parseRetryAfter } from '../../shared/cognigy/retry-after.js';
import type { AckRequest } from './batching.js';
import { BatchRejected, CountMismatch, SubmissionAborted } from './errors.js';

export interface CognigyClientSettings {
  baseUrl: string;
  ackPath: string;
  timeoutMs: number;
}

/** Cognigy took the batch: applied now (`accepted`) or already applied under this key (`duplicate`, 409). */
export interface AckAnswer {
  outcome: 'accepted' | 'duplicate';
  httpStatus: number;
  processedCount: number | null;
  failedCount: number | null;
}

/** The answer to one call, before it is turned into an outcome or a typed error. */
export interface AckResponse {
  status: number;
  body: string;
  retryAfter: string | null;
}

/** The fields of the answer the outcome depends on (Cognigy's batchId is not needed). */
const ANSWER_COUNTS = BatchAcknowledgeAnswer.pick({ processedCount: true, failedCount: true, status: true });

/**
 * What an answer means, decided in one place: 2xx with counts adding up and COMPLETED, or 409, is
 * success; 429 and 5xx are retried; 400 dead-letters the batch. 404/405 mean the endpoint path is
 * wrong (COGNIGY_ACK_PATH), which is retried rather than dead-lettering every batch.
 */
export function classifyAckResponse(response: AckResponse, batchSize: number, now: number): AckAnswer {
  const { status, body } = response;
  if (status >= 200 && status < 300) {
    const answer = parseJson(body) ?? {};
    const counts = ANSWER_COUNTS.safeParse(answer);
    if (counts.success) {
      const { processedCount, failedCount } = counts.data;
      if (processedCount + failedCount === batchSize && counts.data.status === 'COMPLETED') {
        return { outcome: 'accepted', httpStatus: status, processedCount, failedCount };
      }
    }
    throw new CountMismatch(batchSize, answer as { processedCount?: unknown; failedCount?: unknown; status?: unknown });
  }
  if (status === 409) return { outcome: 'duplicate', httpStatus: status, processedCount: null, failedCount: null };
  if (status === 429) throw new CognigyRateLimited(parseRetryAfter(response.retryAfter, now));
  if (status === 401 || status === 403) throw new CognigyUnauthorized(`Cognigy refused the credentials with ${status}`);
  if (status === 404 || status === 405) throw new CognigyUnavailable(`Cognigy answered ${status}: is COGNIGY_ACK_PATH right?`, status);
  if (status === 408 || status === 425) throw new CognigyUnavailable(`Cognigy answered ${status}`, status);
  if (status >= 400 && status < 500) throw new BatchRejected(status, body.slice(0, 2_000));
  throw new CognigyUnavailable(`Cognigy answered ${status}`, status);
}

/** One batch-acknowledge attempt (with at most one token refresh on 401); retries live in the submitter. */
export class CognigyClient {
  private readonly fetch: FetchLike;

  constructor(
    private readonly settings: CognigyClientSettings,
    private readonly auth: CognigyAuth,
    deps: { fetch?: FetchLike } = {},
  ) {
    this.fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  }

  async acknowledge(request: AckRequest, signal?: AbortSignal): Promise<AckAnswer> {
    let headers = await this.auth.headers();
    let response = await this.post(request, headers, signal);
    if (response.status === 401 && this.auth.invalidate(headers)) {
      headers = await this.auth.headers();
      response = await this.post(request, headers, signal);
    }
    return classifyAckResponse(response, request.batchSize, Date.now());
  }

  private async post(request: AckRequest, auth: Record<string, string>, signal?: AbortSignal): Promise<AckResponse> {
    if (signal?.aborted) throw new SubmissionAborted('the aggregator is stopping');
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    try {
      const response = await this.fetch(`${this.settings.baseUrl}${this.settings.ackPath}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': request.idempotencyKey },
        body: JSON.stringify(request),
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      });
      return { status: response.status, body: await response.text(), retryAfter: response.headers.get('retry-after') };
    } catch (error) {
      if (signal?.aborted) throw new SubmissionAborted('the aggregator is stopping', { cause: error });
      throw new CognigyUnavailable(`batch-acknowledge failed: ${errorMessage(error)}`, undefined, { cause: error });
    }
  }
}
