import { RetriableError } from '../errors.js';

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
 * The credentials were refused (token endpoint 401/400, or a call answered 401/403 again after
 * one refresh). Marked retriable because nothing is lost by waiting: the ack aggregator retries
 * with backoff until an operator fixes the credentials, the session writer stops its stage.
 */
export class CognigyUnauthorized extends RetriableError {}
