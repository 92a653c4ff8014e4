import { z } from 'zod';
import { commonEnv, env } from '../../shared/config.js';
import { checkClientSecurity } from '../../shared/client-settings.js';
import { checkDedupRetention, checkTopicCatalog, topicCatalogEnv } from '../../shared/topic-catalog.js';
import { checkDeadLetterNotify, deadLetterNotifyEnv } from '../../shared/stage/dead-letter-notifier.js';
import type { StageSettings } from '../../shared/stage/stage.js';
import { fulfillmentInputs } from '../../shared/topics.js';
import { RETRY_LIMITS, RetryPolicySchema, validateRetryPolicy, type RetryPolicy } from './retry-policy.js';
import type { DownstreamSettings } from './downstream-client.js';
import { parseThresholdOverrides, type Thresholds } from './routing.js';

/** The fulfillment service's environment (README "Fulfillment" lists every variable). */
export const FulfillmentEnv = z
  .object({
    ...commonEnv,
    ...topicCatalogEnv,
    ...deadLetterNotifyEnv,
    FULFILLMENT_GROUP_ID: z.string().min(1).default('cognigy-fulfillment'),
    FULFILLMENT_PORT: env.int(8082, 0, 65_535),
    FULFILLMENT_HOST: z.string().default('0.0.0.0'),
    CONFIDENCE_THRESHOLD: env.number(0.8, 0, 1),
    CONFIDENCE_THRESHOLDS: z.string().default(''),
    DOWNSTREAM_URL: env.url('http://127.0.0.1:8090/v1/fulfill'),
    DOWNSTREAM_TIMEOUT_MS: env.int(5_000, 1, 600_000),
    BREAKER_CONSECUTIVE_FAILURES: env.int(3, 1, 1_000),
    BREAKER_HALF_OPEN_AFTER_MS: env.int(30_000, 1, 3_600_000),
    RETRY_MAX_ATTEMPTS: env.int(4, 1, RETRY_LIMITS.maxAttempts),
    RETRY_STRATEGY: z.enum(['exponential', 'linear'], { message: 'expected exponential or linear' }).default('exponential'),
    RETRY_BASE_DELAY_MS: env.int(1_000, 0, RETRY_LIMITS.windowMs),
    RETRY_MAX_DELAY_MS: env.int(30_000, 0, RETRY_LIMITS.windowMs),
    RETRY_WINDOW_S: env.int(3_600, 1, RETRY_LIMITS.windowMs / 1_000),
    RETRY_JITTER: env.number(0.1, 0, RETRY_LIMITS.jitter),
    FULFILLMENT_MAX_IN_FLIGHT: env.int(100, 1, 10_000),
    FULFILLMENT_MAX_BUFFERED: env.int(2_000, 1, 1_000_000),
    FULFILLMENT_ORDERING: z.enum(['key', 'partition'], { message: 'expected key or partition' }).default('key'),
    FULFILLMENT_DEDUP_WINDOW_S: env.int(600, 0, 86_400),
    FULFILLMENT_DEDUP_MAX_ENTRIES: env.int(100_000, 1, 10_000_000),
    FULFILLMENT_COMMIT_INTERVAL_MS: env.int(100, 0, 60_000),
    FULFILLMENT_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
    EXACTLY_ONCE: env.bool(false),
    FULFILLMENT_TRANSACTIONAL_ID_PREFIX: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    checkTopicCatalog(c, ctx);
    checkClientSecurity(c, ctx);
    checkDedupRetention('FULFILLMENT_DEDUP_WINDOW_S', c.FULFILLMENT_DEDUP_WINDOW_S, c, ctx);
    checkDeadLetterNotify(c, ctx);
    const overrides = parseThresholdOverrides(c.CONFIDENCE_THRESHOLDS);
    if (!overrides.ok) ctx.addIssue({ code: 'custom', path: ['CONFIDENCE_THRESHOLDS'], message: overrides.error });
    const policy = RetryPolicySchema.safeParse(policyFields(c));
    for (const issue of policy.error?.issues ?? []) {
      ctx.addIssue({ code: 'custom', path: [POLICY_VARIABLES[String(issue.path[0])] ?? 'RETRY_*'], message: issue.message });
    }
  });

function policyFields(c: Pick<FulfillmentConfig, 'RETRY_MAX_ATTEMPTS' | 'RETRY_STRATEGY' | 'RETRY_BASE_DELAY_MS' | 'RETRY_MAX_DELAY_MS' | 'RETRY_WINDOW_S' | 'RETRY_JITTER'>): RetryPolicy {
  return {
    maxAttempts: c.RETRY_MAX_ATTEMPTS,
    strategy: c.RETRY_STRATEGY,
    baseDelayMs: c.RETRY_BASE_DELAY_MS,
    maxDelayMs: c.RETRY_MAX_DELAY_MS,
    windowMs: c.RETRY_WINDOW_S * 1_000,
    jitter: c.RETRY_JITTER,
  };
}

/** The retry policy of a loaded configuration, validated again (configurations built in code skip loadConfig). */
export function retryPolicyOf(c: FulfillmentConfig): RetryPolicy {
  return validateRetryPolicy(policyFields(c));
}

export function thresholdsOf(c: FulfillmentConfig): Thresholds {
  const overrides = parseThresholdOverrides(c.CONFIDENCE_THRESHOLDS);
  if (!overrides.ok) throw new Error(`CONFIDENCE_THRESHOLDS: ${overrides.error}`);
  return { default: c.CONFIDENCE_THRESHOLD, byIntent: overrides.value };
}

/** The consumer stage: the callbacks topic, then retry tier n as input n. */
export function stageSettingsOf(c: FulfillmentConfig, policy: RetryPolicy): StageSettings {
  return {
    name: 'fulfillment',
    config: c,
    groupId: c.FULFILLMENT_GROUP_ID,
    inputs: (topics) => fulfillmentInputs(topics, policy.maxAttempts),
    creates: ['callbacks', 'retry', 'results', 'dlq', 'fulfillmentDedup'],
    sessionTimeoutMs: c.FULFILLMENT_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: Math.floor(c.FULFILLMENT_SESSION_TIMEOUT_MS / 10),
    port: c.FULFILLMENT_PORT,
    host: c.FULFILLMENT_HOST,
  };
}

export function downstreamOf(c: FulfillmentConfig): DownstreamSettings {
  return {
    url: c.DOWNSTREAM_URL,
    timeoutMs: c.DOWNSTREAM_TIMEOUT_MS,
    consecutiveFailures: c.BREAKER_CONSECUTIVE_FAILURES,
    halfOpenAfterMs: c.BREAKER_HALF_OPEN_AFTER_MS,
    maxInFlight: c.FULFILLMENT_MAX_IN_FLIGHT,
  };
}

const POLICY_VARIABLES: Record<string, string> = {
  maxAttempts: 'RETRY_MAX_ATTEMPTS',
  strategy: 'RETRY_STRATEGY',
  baseDelayMs: 'RETRY_BASE_DELAY_MS',
  maxDelayMs: 'RETRY_MAX_DELAY_MS',
  windowMs: 'RETRY_WINDOW_S',
  jitter: 'RETRY_JITTER',
};

export type FulfillmentConfig = z.infer<typeof FulfillmentEnv>;
