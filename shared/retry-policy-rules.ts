import { z } from 'zod';

/**
 * The rules every retry policy in the project obeys, written once: fulfillment's own retries of
 * failed callbacks, the retry policies the CLI sets on Cognigy's webhooks, and the simulator that
 * stands in for Cognigy all validate through the schemas below. Pure data, no I/O.
 */

/** What a retry schedule says: how often, how far apart, and for how long calls are tried again. */
export interface RetrySchedule {
  /** Calls in total, the first one included (1..10). 1 means: never retry. */
  maxAttempts: number;
  strategy: 'exponential' | 'linear';
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry is scheduled later than this after the first failure. */
  windowMs: number;
}

/** Fulfillment's policy: a schedule plus the jitter it spreads its own retries with. */
export interface RetryPolicy extends RetrySchedule {
  /** Share of the delay added or removed at random (0..0.1), so retries of one outage spread out. */
  jitter: number;
}

/** Cognigy's engine limits: at most 10 attempts and a retry window of at most 24 hours. */
export const RETRY_LIMITS = { maxAttempts: 10, windowMs: 86_400_000, jitter: 0.1 } as const;

export const RETRY_STRATEGIES = ['exponential', 'linear'] as const;

const scheduleFields = {
  maxAttempts: z
    .number()
    .int()
    .min(1, `expected 1 to ${RETRY_LIMITS.maxAttempts}`)
    .max(RETRY_LIMITS.maxAttempts, `expected 1 to ${RETRY_LIMITS.maxAttempts}`),
  strategy: z.enum(RETRY_STRATEGIES),
  baseDelayMs: z.number().int().min(0),
  maxDelayMs: z.number().int().min(0),
  // Stated in both units: fulfillment reads the window in ms, Cognigy and the CLI in seconds.
  windowMs: z
    .number()
    .int()
    .min(1)
    .max(RETRY_LIMITS.windowMs, `expected at most ${RETRY_LIMITS.windowMs} ms (${RETRY_LIMITS.windowMs / 1_000} s)`),
};

const delaysInOrder = (p: { baseDelayMs: number; maxDelayMs: number }) => p.baseDelayMs <= p.maxDelayMs;
const delaysOutOfOrder = { path: ['maxDelayMs'], message: 'expected at least the base delay' };

/** A schedule without jitter: what Cognigy's webhook retry policy can express. */
export const RetryScheduleSchema = z.object(scheduleFields).refine(delaysInOrder, delaysOutOfOrder);

export const RetryPolicySchema = z
  .object({ ...scheduleFields, jitter: z.number().min(0).max(RETRY_LIMITS.jitter) })
  .refine(delaysInOrder, delaysOutOfOrder);

export class InvalidRetryPolicy extends Error {
  override name = 'InvalidRetryPolicy';
}

/** Checks a policy built in code (the env path validates through the same schema in config.ts). */
export function validateRetryPolicy(input: RetryPolicy): RetryPolicy {
  const parsed = RetryPolicySchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new InvalidRetryPolicy(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
}

/** One broken rule, named by the field of the schedule it concerns. */
export interface ScheduleIssue {
  field: keyof RetrySchedule;
  message: string;
}

/** The broken rules of a schedule; empty when it is valid. */
export function scheduleIssues(input: RetrySchedule): ScheduleIssue[] {
  const parsed = RetryScheduleSchema.safeParse(input);
  return (parsed.error?.issues ?? []).map((i) => ({ field: String(i.path[0]) as keyof RetrySchedule, message: i.message }));
}

/** The `retryPolicy` of a Cognigy webhook, as its API reads and writes it. */
export interface WebhookRetryPolicy {
  enabled: boolean;
  maxAttempts: number;
  backoffStrategy: 'exponential' | 'linear';
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryWindowSeconds: number;
}

/** Cognigy's field for each schedule field. */
export const WEBHOOK_POLICY_FIELDS: Record<keyof RetrySchedule, keyof WebhookRetryPolicy> = {
  maxAttempts: 'maxAttempts',
  strategy: 'backoffStrategy',
  baseDelayMs: 'baseDelayMs',
  maxDelayMs: 'maxDelayMs',
  windowMs: 'maxRetryWindowSeconds',
};

/** Cognigy counts the window in whole seconds; a schedule's window is rounded up to one. */
export function toWebhookRetryPolicy(schedule: RetrySchedule): WebhookRetryPolicy {
  return {
    enabled: true,
    maxAttempts: schedule.maxAttempts,
    backoffStrategy: schedule.strategy,
    baseDelayMs: schedule.baseDelayMs,
    maxDelayMs: schedule.maxDelayMs,
    maxRetryWindowSeconds: Math.ceil(schedule.windowMs / 1_000),
  };
}

export function fromWebhookRetryPolicy(policy: WebhookRetryPolicy): RetrySchedule {
  return {
    maxAttempts: policy.maxAttempts,
    strategy: policy.backoffStrategy,
    baseDelayMs: policy.baseDelayMs,
    maxDelayMs: policy.maxDelayMs,
    windowMs: policy.maxRetryWindowSeconds * 1_000,
  };
}
