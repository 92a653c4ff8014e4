import { z } from 'zod';
import { commonEnv, env } from '../../shared/config.js';
import { ApiKeyAuth, oauthClientOf, type CognigyAuth, type OAuthDeps } from '../../shared/cognigy/auth.js';
import { COGNIGY_CONTRACT } from '../../shared/cognigy/contract.js';
import { checkDeadLetterNotify, deadLetterNotifyEnv } from '../../shared/stage/dead-letter-notifier.js';
import type { StageSettings } from '../../shared/stage/stage.js';
import { checkClientSecurity } from '../../shared/client-settings.js';
import { checkTopicCatalog, topicCatalogEnv } from '../../shared/topic-catalog.js';
import { parseVariableMap, VariableMapError, type VariableMap } from './variables.js';

const path = (fallback: string) => z.string().regex(/^\/\S*$/, 'expected an absolute path such as /api/v2/...').default(fallback);

export const SessionWriterEnv = z
  .object({
    ...commonEnv,
    ...topicCatalogEnv,
    ...deadLetterNotifyEnv,
    /** Off unless enabled: writing into live conversations is a decision, not a default. */
    SESSION_WRITER_ENABLED: env.bool(false),
    SESSION_WRITER_GROUP_ID: z.string().min(1).default('cognigy-session-writer'),
    SESSION_WRITER_PORT: env.int(8085, 0, 65_535),
    SESSION_WRITER_HOST: z.string().default('0.0.0.0'),
    SESSION_WRITER_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
    /** Cognigy's limit for one API key: requests per five minutes. The writer stays at 90% of it. */
    SESSION_WRITER_MAX_PER_5MIN: env.int(1_000, 10, 1_000_000),
    /** Writes in flight at once (each still takes a token from the rate limit). */
    SESSION_WRITER_CONCURRENCY: env.int(4, 1, 256),
    /** Results held in memory waiting for their write; above it the consumer stops fetching. */
    SESSION_WRITER_MAX_PENDING: env.int(10_000, 1, 1_000_000),
    /** Sessions whose last written callback is remembered, so a late older result is not written over it. */
    SESSION_WRITER_ORDER_MEMORY: env.int(100_000, 1, 10_000_000),
    SESSION_WRITER_AUTH: z.enum(['api-key', 'oauth2'], { message: 'expected api-key or oauth2' }).default('api-key'),
    SESSION_VARIABLES_PATH: path(COGNIGY_CONTRACT.sessionVariables.path).refine(
      (p) => p.includes('{sessionId}'),
      'expected a path with a {sessionId} placeholder',
    ),
    SESSION_VARIABLES_MAP: z.string().default('processed_intent=intent,processed_response=response,webhook_processed=true'),
    COGNIGY_BASE_URL: env.url('http://127.0.0.1:8090').transform((u) => u.replace(/\/+$/, '')),
    COGNIGY_API_KEY: z.string().default(''),
    COGNIGY_CLIENT_ID: z.string().default(''),
    COGNIGY_CLIENT_SECRET: z.string().default(''),
    COGNIGY_OAUTH_SCOPE: z.string().default('session:write'),
    COGNIGY_TOKEN_PATH: path(COGNIGY_CONTRACT.token.path),
    COGNIGY_TOKEN_REFRESH_BEFORE_MS: env.int(30_000, 0, 3_600_000),
    COGNIGY_TIMEOUT_MS: env.int(10_000, 100, 300_000),
    COGNIGY_RETRY_BASE_DELAY_MS: env.int(500, 1, 600_000),
    COGNIGY_RETRY_MAX_DELAY_MS: env.int(30_000, 1, 3_600_000),
  })
  .superRefine((c, ctx) => {
    checkTopicCatalog(c, ctx);
    checkClientSecurity(c, ctx);
    if (!c.SESSION_WRITER_ENABLED) {
      ctx.addIssue({ code: 'custom', path: ['SESSION_WRITER_ENABLED'], message: 'the session writer is off; set it to true to run it' });
    }
    if (c.SESSION_WRITER_AUTH === 'api-key' && c.COGNIGY_API_KEY === '') {
      ctx.addIssue({ code: 'custom', path: ['COGNIGY_API_KEY'], message: 'expected a value when SESSION_WRITER_AUTH=api-key' });
    }
    if (c.SESSION_WRITER_AUTH === 'oauth2') {
      for (const key of ['COGNIGY_CLIENT_ID', 'COGNIGY_CLIENT_SECRET'] as const) {
        if (c[key] === '') ctx.addIssue({ code: 'custom', path: [key], message: 'expected a value when SESSION_WRITER_AUTH=oauth2' });
      }
    }
    try {
      parseVariableMap(c.SESSION_VARIABLES_MAP);
    } catch (error) {
      if (!(error instanceof VariableMapError)) throw error;
      ctx.addIssue({ code: 'custom', path: ['SESSION_VARIABLES_MAP'], message: error.message });
    }
    if (c.COGNIGY_RETRY_MAX_DELAY_MS < c.COGNIGY_RETRY_BASE_DELAY_MS) {
      ctx.addIssue({ code: 'custom', path: ['COGNIGY_RETRY_MAX_DELAY_MS'], message: 'expected at least COGNIGY_RETRY_BASE_DELAY_MS' });
    }
    checkDeadLetterNotify(c, ctx);
  });

export type SessionWriterConfig = z.infer<typeof SessionWriterEnv>;

/** The consumer stage: the results topic, in group SESSION_WRITER_GROUP_ID. */
export function stageSettingsOf(c: SessionWriterConfig): StageSettings {
  return {
    name: 'session-writer',
    config: c,
    groupId: c.SESSION_WRITER_GROUP_ID,
    inputs: (topics) => [topics.results],
    creates: ['results', 'dlq'],
    sessionTimeoutMs: c.SESSION_WRITER_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: Math.min(3_000, Math.floor(c.SESSION_WRITER_SESSION_TIMEOUT_MS / 3)),
    port: c.SESSION_WRITER_PORT,
    host: c.SESSION_WRITER_HOST,
  };
}

export function variableMapOf(c: SessionWriterConfig): VariableMap {
  return parseVariableMap(c.SESSION_VARIABLES_MAP);
}

/**
 * The runtime API's key in `X-Cognigy-Api-Key` (scope session:write), or the OAuth2 client the
 * ack aggregator uses, with its own scope.
 */
export function sessionAuthOf(c: SessionWriterConfig, deps: OAuthDeps): CognigyAuth {
  if (c.SESSION_WRITER_AUTH === 'api-key') return new ApiKeyAuth(c.COGNIGY_API_KEY, 'x-cognigy-api-key');
  return oauthClientOf(c, c.COGNIGY_OAUTH_SCOPE, deps);
}
