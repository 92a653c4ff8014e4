import { z } from 'zod';
import { commonEnv, env } from '../../shared/config.js';
import type { StageSettings } from '../../shared/stage/stage.js';
import { checkClientSecurity } from '../../shared/client-settings.js';
import { checkDedupRetention, checkTopicCatalog, topicCatalogEnv } from '../../shared/topic-catalog.js';
import { checkDeadLetterNotify, deadLetterNotifyEnv } from '../../shared/stage/dead-letter-notifier.js';
import { ApiKeyAuth, oauthClientOf, type CognigyAuth, type OAuthDeps } from '../../shared/cognigy/auth.js';
import { COGNIGY_CONTRACT } from '../../shared/cognigy/contract.js';

/** Cognigy accepts at most this many items in one batch-acknowledge call. */
export const COGNIGY_MAX_BATCH = 500;

const path = (fallback: string) => z.string().regex(/^\/\S*$/, 'expected an absolute path such as /api/v1/...').default(fallback);

export const AckAggregatorEnv = z
  .object({
    ...commonEnv,
    ...topicCatalogEnv,
    ...deadLetterNotifyEnv,
    ACK_GROUP_ID: z.string().min(1).default('cognigy-ack-aggregator'),
    ACK_MAX_BATCH: env.int(COGNIGY_MAX_BATCH, 1, COGNIGY_MAX_BATCH),
    ACK_WINDOW_MS: env.int(5_000, 1, 600_000),
    /** Results held in memory and not yet acknowledged; above it the consumer stops fetching. */
    ACK_MAX_PENDING: env.int(5_000, 1, 1_000_000),
    /** Batches submitted to Cognigy at the same time. */
    ACK_MAX_CONCURRENT_BATCHES: env.int(2, 1, 64),
    /**
     * Batch plans are read back from this long before the oldest uncommitted result: covers clock
     * skew between the hosts that wrote the result and the plan.
     */
    ACK_PLAN_LOOKBACK_MS: env.int(300_000, 0, 7 * 24 * 3_600_000),
    ACK_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
    /** An event id acknowledged within this window is not acknowledged again (durable: cognigy.acks.dedup.v1). */
    ACK_DEDUP_WINDOW_S: env.int(600, 0, 86_400),
    ACK_DEDUP_MAX_ENTRIES: env.int(200_000, 1, 10_000_000),
    ACK_AGGREGATOR_PORT: env.int(8083, 0, 65_535),
    ACK_AGGREGATOR_HOST: z.string().default('0.0.0.0'),
    COGNIGY_BASE_URL: env.url('http://127.0.0.1:8090').transform((u) => u.replace(/\/+$/, '')),
    COGNIGY_AUTH: z.enum(['oauth2', 'api-key'], { message: 'expected oauth2 or api-key' }).default('oauth2'),
    COGNIGY_CLIENT_ID: z.string().default(''),
    COGNIGY_CLIENT_SECRET: z.string().default(''),
    COGNIGY_OAUTH_SCOPE: z.string().default('webhook:write'),
    COGNIGY_API_KEY: z.string().default(''),
    COGNIGY_TOKEN_PATH: path(COGNIGY_CONTRACT.token.path),
    COGNIGY_ACK_PATH: path(COGNIGY_CONTRACT.batchAcknowledge.path),
    /** A cached token is replaced this long before it expires. */
    COGNIGY_TOKEN_REFRESH_BEFORE_MS: env.int(30_000, 0, 3_600_000),
    COGNIGY_TIMEOUT_MS: env.int(10_000, 100, 300_000),
    COGNIGY_RETRY_BASE_DELAY_MS: env.int(500, 1, 600_000),
    COGNIGY_RETRY_MAX_DELAY_MS: env.int(30_000, 1, 3_600_000),
  })
  .superRefine((c, ctx) => {
    checkTopicCatalog(c, ctx);
    checkClientSecurity(c, ctx);
    checkDedupRetention('ACK_DEDUP_WINDOW_S', c.ACK_DEDUP_WINDOW_S, c, ctx);
    checkDeadLetterNotify(c, ctx);
    if (c.COGNIGY_AUTH === 'oauth2') {
      for (const key of ['COGNIGY_CLIENT_ID', 'COGNIGY_CLIENT_SECRET'] as const) {
        if (c[key] === '') ctx.addIssue({ code: 'custom', path: [key], message: 'expected a value when COGNIGY_AUTH=oauth2' });
      }
    }
    if (c.COGNIGY_AUTH === 'api-key' && c.COGNIGY_API_KEY === '') {
      ctx.addIssue({ code: 'custom', path: ['COGNIGY_API_KEY'], message: 'expected a value when COGNIGY_AUTH=api-key' });
    }
    if (c.ACK_MAX_PENDING < c.ACK_MAX_BATCH) {
      ctx.addIssue({ code: 'custom', path: ['ACK_MAX_PENDING'], message: `expected at least ACK_MAX_BATCH (${c.ACK_MAX_BATCH})` });
    }
    if (c.COGNIGY_RETRY_MAX_DELAY_MS < c.COGNIGY_RETRY_BASE_DELAY_MS) {
      ctx.addIssue({ code: 'custom', path: ['COGNIGY_RETRY_MAX_DELAY_MS'], message: 'expected at least COGNIGY_RETRY_BASE_DELAY_MS' });
    }
  });

export type AckAggregatorConfig = z.infer<typeof AckAggregatorEnv>;

/** The consumer stage: the results topic, in group ACK_GROUP_ID. */
export function stageSettingsOf(c: AckAggregatorConfig): StageSettings {
  return {
    name: 'ack-aggregator',
    config: c,
    groupId: c.ACK_GROUP_ID,
    inputs: (topics) => [topics.results],
    creates: ['results', 'dlq', 'ackBatches', 'acksDedup'],
    sessionTimeoutMs: c.ACK_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: Math.min(3_000, Math.floor(c.ACK_SESSION_TIMEOUT_MS / 3)),
    port: c.ACK_AGGREGATOR_PORT,
    host: c.ACK_AGGREGATOR_HOST,
  };
}

/** How calls to Cognigy are authorised: a fixed API key, or OAuth2 client credentials. */
export function cognigyAuthOf(c: AckAggregatorConfig, deps: OAuthDeps): CognigyAuth {
  if (c.COGNIGY_AUTH === 'api-key') return new ApiKeyAuth(c.COGNIGY_API_KEY);
  return oauthClientOf(c, c.COGNIGY_OAUTH_SCOPE, deps);
}
