import { DelegateBackoff, ExponentialBackoff, handleWhen, retry, type IBackoff, type IRetryBackoffContext, type RetryPolicy } from 'cockatiel';
import { isRetriable } from '../errors.js';
import { CognigyRateLimited } from './errors.js';

export interface BackoffSettings {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delays between attempts of one Cognigy call: exactly what a 429's Retry-After asked for, otherwise exponential
 * backoff with decorrelated jitter (cockatiel's default generator), capped at `maxDelayMs`.
 */
export function submitBackoff(settings: BackoffSettings): DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>> {
  const exponential = new ExponentialBackoff({ initialDelay: settings.baseDelayMs, maxDelay: settings.maxDelayMs });
  return new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>((context, previous) => {
    const next = previous === undefined ? exponential.next() : previous.next(context);
    const error = 'error' in context.result ? context.result.error : undefined;
    const retryAfterMs = error instanceof CognigyRateLimited ? error.retryAfterMs : undefined;
    return { delay: retryAfterMs ?? next.duration, state: next };
  });
}

/**
 * Retries every failure `retriable` accepts (by default every RetriableError) for as long as it
 * takes; the caller's AbortSignal ends it.
 */
export function submitRetryPolicy(settings: BackoffSettings, retriable: (error: Error) => boolean = isRetriable): RetryPolicy {
  return retry(
    handleWhen((error) => retriable(error)),
    { maxAttempts: Number.POSITIVE_INFINITY, backoff: submitBackoff(settings) },
  ).dangerouslyUnref();
}
