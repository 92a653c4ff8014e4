import { z } from 'zod';

/**
 * When a failed callback is tried again. Pure: `nextRetry(policy, attempt, now)` decides from data
 * only, so every schedule is unit tested without a broker or a clock.
 */
export interface RetryPolicy {
  /** Calls in total, the first one included (1..10). 1 means: never retry. */
  maxAttempts: number;
  strategy: 'exponential' | 'linear';
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry is scheduled later than this after the first failure. */
  windowMs: number;
  /** Share of the delay added or removed at random (0..0.1), so retries of one outage spread out. */
  jitter: number;
}

export const RETRY_LIMITS = { maxAttempts: 10, windowMs: 86_400_000, jitter: 0.1 } as const;

export const RetryPolicySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(RETRY_LIMITS.maxAttempts),
    strategy: z.enum(['exponential', 'linear']),
    baseDelayMs: z.number().int().min(0),
    maxDelayMs: z.number().int().min(0),
    windowMs: z.number().int().min(1).max(RETRY_LIMITS.windowMs),
    jitter: z.number().min(0).max(RETRY_LIMITS.jitter),
  })
  .refine((p) => p.baseDelayMs <= p.maxDelayMs, { path: ['maxDelayMs'], message: 'expected at least the base delay' });

export class InvalidRetryPolicy extends Error {
  override name = 'InvalidRetryPolicy';
}

/** Checks a policy built in code (the env path validates through the same schema in config.ts). */
export function validateRetryPolicy(input: RetryPolicy): RetryPolicy {
  const parsed = RetryPolicySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new InvalidRetryPolicy(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
}

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

/** Retry tiers that exist for a policy: 1 .. maxAttempts-1. */
export function retryTiers(policy: Pick<RetryPolicy, 'maxAttempts'>): number[] {
  return Array.from({ length: policy.maxAttempts - 1 }, (_, i) => i + 1);
}
