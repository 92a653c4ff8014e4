import { DelegateBackoff, ExponentialBackoff, handleWhen, retry, type IBackoff, type IRetryBackoffContext, type RetryPolicy } from 'cockatiel';
import { isRetriable } from '../../shared/errors.js';
import { CognigyRateLimited } from './errors.js';

export interface BackoffSettings {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Retry-After is honoured up to this; a larger value is treated as a malformed answer. */
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Delays between batch attempts: exactly what a 429's Retry-After asked for, otherwise exponential
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

/** Retries every retriable failure for as long as it takes; the caller's AbortSignal ends it. */
export function submitRetryPolicy(settings: BackoffSettings): RetryPolicy {
  return retry(
    handleWhen((error) => isRetriable(error)),
    { maxAttempts: Number.POSITIVE_INFINITY, backoff: submitBackoff(settings) },
  ).dangerouslyUnref();
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unusable. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const value = header.trim();
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1_000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}
