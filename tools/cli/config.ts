import { z } from 'zod';
import { COGNIGY_CONTRACT } from '../../shared/cognigy/contract.js';
import { ConfigError, commonEnv, env } from '../../shared/config.js';
import { checkClientSecurity } from '../../shared/client-settings.js';
import { checkTopicCatalog, topicCatalogEnv } from '../../shared/topic-catalog.js';
import { localInfraEnv } from '../infra/launcher.js';

const path = (fallback: string) => z.string().regex(/^\/\S*$/, 'expected an absolute path such as /api/v1/...').default(fallback);

/**
 * Cognigy's admin API, for `retry-policy`: the aggregator's variable names, with a scope of its
 * own because changing a bot's webhooks needs more than acknowledging callbacks.
 */
const cognigyAdminEnv = {
  COGNIGY_BASE_URL: env.url('http://127.0.0.1:8090').transform((u) => u.replace(/\/+$/, '')),
  COGNIGY_TOKEN_PATH: path(COGNIGY_CONTRACT.token.path),
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
  .superRefine((c, ctx) => {
    checkTopicCatalog(c, ctx);
    checkClientSecurity(c, ctx);
    if (c.COGNIGY_RETRY_BASE_DELAY_MS > c.COGNIGY_RETRY_MAX_DELAY_MS) {
      ctx.addIssue({ code: 'custom', path: ['COGNIGY_RETRY_MAX_DELAY_MS'], message: 'expected at least COGNIGY_RETRY_BASE_DELAY_MS' });
    }
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

/**
 * `npm start`'s own settings, checked before anything starts (each service checks its own when it
 * starts). LOG_LEVEL is the level of the pipeline's log lines, warn unless set.
 */
export const StartEnv = z.object({
  ...localInfraEnv,
  SIMULATOR_PORT: env.int(8090, 0, 65_535),
  SUMMARY_INTERVAL_MS: env.int(5_000, 100, 3_600_000),
  LOG_LEVEL: commonEnv.LOG_LEVEL.unwrap().default('warn'),
});
