import { NonRetriableError, RetriableError } from '../../shared/errors.js';

/** 5xx, a timeout or a network error: Cognigy may answer next time. */
export class CognigyUnavailable extends RetriableError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 429: the next attempt waits `retryAfterMs` when Cognigy said how long, else the usual backoff. */
export class CognigyRateLimited extends RetriableError {
  constructor(readonly retryAfterMs: number | undefined) {
    super(`Cognigy answered 429${retryAfterMs === undefined ? '' : `, retry after ${retryAfterMs} ms`}`);
  }
}

/**
 * The credentials were refused (token endpoint 401/400, or a batch call 401 again after one
 * refresh). Retried with backoff rather than dropped: acknowledgments wait for an operator to fix
 * the credentials and are never lost to a configuration error.
 */
export class CognigyUnauthorized extends RetriableError {}

/** 200 whose counts do not add up to the batch: not treated as accepted, so the batch is retried. */
export class CountMismatch extends RetriableError {
  constructor(
    readonly batchSize: number,
    readonly answer: { processedCount?: unknown; failedCount?: unknown; status?: unknown },
  ) {
    super(
      `Cognigy answered processedCount=${String(answer.processedCount)} failedCount=${String(answer.failedCount)} ` +
        `status=${String(answer.status)} for a batch of ${batchSize}`,
    );
  }
}

/** 400 (or another 4xx): Cognigy refuses the batch as it is; it is dead-lettered with the answer. */
export class BatchRejected extends NonRetriableError {
  constructor(
    readonly status: number,
    readonly answer: string,
  ) {
    super(`Cognigy refused the batch with ${status}: ${answer}`);
  }
}

/** The aggregator is stopping; the batch stays planned and is resent with the same key on restart. */
export class SubmissionAborted extends NonRetriableError {}
