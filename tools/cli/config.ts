import { z } from 'zod';
import { ConfigError, commonEnv, env } from '../../shared/config.js';
import { topicCatalogEnv } from '../../shared/topic-catalog.js';

const path = (fallback: string) => z.string().regex(/^\/\S*$/, 'expected an absolute path such as /api/v1/...').default(fallback);

/**
 * Cognigy's admin API, for `retry-policy`: the aggregator's variable names, with a scope of its
 * own because changing a bot's webhooks needs more than acknowledging callbacks.
 */
const cognigyAdminEnv = {
  COGNIGY_BASE_URL: env.url('http://127.0.0.1:8090').transform((u) => u.replace(/\/+$/, '')),
  COGNIGY_TOKEN_PATH: path('/api/v1/auth/oauth/token'),
  COGNIGY_CLIENT_ID: z.string().default(''),
  COGNIGY_CLIENT_SECRET: z.string().default(''),
  COGNIGY_ADMIN_OAUTH_SCOPE: z.string().min(1).default('bot:webhooks:manage'),
  COGNIGY_TIMEOUT_MS: env.int(10_000, 100, 300_000),
  /** Backoff between attempts of one call after a 5xx, a network error or a 429 without Retry-After. */
  COGNIGY_RETRY_BASE_DELAY_MS: env.int(500, 1, 600_000),
  COGNIGY_RETRY_MAX_DELAY_MS: env.int(10_000, 1, 3_600_000),
};

/** The operations CLI reads the same env as the services, plus the group names it acts on. */
export const CliEnv = z
  .object({
    ...commonEnv,
    ...topicCatalogEnv,
    FULFILLMENT_GROUP_ID: z.string().min(1).default('cognigy-fulfillment'),
    ACK_GROUP_ID: z.string().min(1).default('cognigy-ack-aggregator'),
    SESSION_WRITER_GROUP_ID: z.string().min(1).default('cognigy-session-writer'),
    DLQ_REDRIVE_GROUP_ID: z.string().min(1).default('cognigy-dlq-redrive'),
    ...cognigyAdminEnv,
  })
  .refine((c) => c.COGNIGY_RETRY_BASE_DELAY_MS <= c.COGNIGY_RETRY_MAX_DELAY_MS, {
    path: ['COGNIGY_RETRY_MAX_DELAY_MS'],
    message: 'expected at least COGNIGY_RETRY_BASE_DELAY_MS',
  });

export type CliConfig = z.infer<typeof CliEnv>;

/**
 * The client credentials, checked only by the command that calls Cognigy, so the Kafka commands
 * run without them. Throws a ConfigError naming the variable, like loadConfig.
 */
export function requireCognigyCredentials(config: CliConfig): void {
  for (const key of ['COGNIGY_CLIENT_ID', 'COGNIGY_CLIENT_SECRET'] as const) {
    if (config[key] === '') throw new ConfigError(`${key}: expected a value (retry-policy calls Cognigy with OAuth2 client credentials)`);
  }
}
