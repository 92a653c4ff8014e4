import type { RetryPolicy } from '../../shared/retry-policy-rules.js';

/**
 * When a failed callback is tried again. Pure: `nextRetry(policy, attempt, now)` decides from data
 * only, so every schedule is unit tested without a broker or a clock. The rules a policy obeys live
 * in the shared kit, because the CLI sets Cognigy's own webhook retries under the same limits.
 */
export {
  InvalidRetryPolicy,
  RETRY_LIMITS,
  RetryPolicySchema,
  validateRetryPolicy,
  type RetryPolicy,
} from '../../shared/retry-policy-rules.js';

export type RetryDecision =
  /** Write to retry tier `tier` (cognigy.callbacks.retry.<tier>), to be tried again at `dueAt`. */
  | { kind: 'retry'; tier: number; delayMs: number; dueAt: number }
  | { kind: 'exhausted'; reason: 'attempts' | 'window' };

/** Delay before the attempt after `attempt` (1-based), before jitter. */
export function baseDelay(policy: RetryPolicy, attempt: number): number {
  const raw = policy.strategy === 'exponential' ? policy.baseDelayMs * 2 ** (attempt - 1) : policy.baseDelayMs * attempt;
  return Math.min(raw, policy.maxDelayMs);
}

/**
 * Attempt `attempt` (1-based) has just failed with a retriable error: retry it, or give up because
 * the attempts or the retry window (counted from `firstFailedAt`) are used up.
 */
export function nextRetry(
  policy: RetryPolicy,
  attempt: number,
  now: number,
  opts: { firstFailedAt?: number; random?: () => number } = {},
): RetryDecision {
  if (attempt >= policy.maxAttempts) return { kind: 'exhausted', reason: 'attempts' };
  const spread = policy.jitter * (2 * (opts.random ?? Math.random)() - 1);
  const delayMs = Math.max(0, Math.min(policy.maxDelayMs, Math.round(baseDelay(policy, attempt) * (1 + spread))));
  const dueAt = now + delayMs;
  if (dueAt - (opts.firstFailedAt ?? now) > policy.windowMs) return { kind: 'exhausted', reason: 'window' };
  return { kind: 'retry', tier: attempt, delayMs, dueAt };
}
