import { z } from 'zod';
import { checkClientSecurity } from '../../shared/client-settings.js';
import { commonEnv, env } from '../../shared/config.js';
import { checkTopicCatalog, topicCatalogEnv } from '../../shared/topic-catalog.js';

/** Ports of `npm start`'s services, where their /metrics.json answers. */
const LOCAL_METRICS = 'http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083,http://127.0.0.1:8085';

export const ConsoleEnv = z
  .object({
    ...commonEnv,
    ...topicCatalogEnv,
    CONSOLE_PORT: env.int(8084, 0, 65_535),
    CONSOLE_HOST: z.string().default('0.0.0.0'),
    /**
     * The bearer token for the page and the API. There is no default: a console without one stays
     * off (`npm start` makes one up and prints it).
     */
    CONSOLE_TOKEN: z.string().default(''),
    /** Redrive and replay from the page; read-only otherwise. */
    CONSOLE_ALLOW_ACTIONS: env.bool(false),
    /** How often the flow view samples the services' metrics and the consumer lag. */
    CONSOLE_REFRESH_MS: env.int(2_000, 250, 60_000),
    /** Base URLs of the services whose /metrics.json the flow view sums (every replica of each). */
    CONSOLE_METRICS_URLS: env.list(LOCAL_METRICS),
    /** How far back the event path and the batch list read the callbacks, results and batches topics. */
    CONSOLE_HISTORY_MS: env.int(3_600_000, 60_000, 30 * 86_400_000),
    /** Event ids the event path remembers at most; the oldest are forgotten first. */
    CONSOLE_MAX_EVENTS: env.int(200_000, 1_000, 10_000_000),
    /** Dead letters held for the table at most (the newest). */
    CONSOLE_MAX_DEAD_LETTERS: env.int(100_000, 100, 5_000_000),
    FULFILLMENT_GROUP_ID: z.string().min(1).default('cognigy-fulfillment'),
    ACK_GROUP_ID: z.string().min(1).default('cognigy-ack-aggregator'),
    SESSION_WRITER_GROUP_ID: z.string().min(1).default('cognigy-session-writer'),
    DLQ_REDRIVE_GROUP_ID: z.string().min(1).default('cognigy-dlq-redrive'),
  })
  .superRefine((c, ctx) => {
    checkTopicCatalog(c, ctx);
    checkClientSecurity(c, ctx);
    // The flow view names each address it reads; an address must not carry a password to show.
    for (const url of c.CONSOLE_METRICS_URLS) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(url);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['CONSOLE_METRICS_URLS'], message: `not a URL: ${url.replace(/\/\/[^@/]*@/, '//***@')}` });
        continue;
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        ctx.addIssue({ code: 'custom', path: ['CONSOLE_METRICS_URLS'], message: `not an http:// or https:// URL: ${parsed.protocol}//...` });
      } else if (parsed.username !== '' || parsed.password !== '') {
        ctx.addIssue({ code: 'custom', path: ['CONSOLE_METRICS_URLS'], message: 'expected base URLs without credentials (the metrics endpoints are read without them)' });
      }
    }
    if (c.CONSOLE_TOKEN.length < 16) {
      const message =
        c.CONSOLE_TOKEN === ''
          ? 'not set: the console stays off without a token (at least 16 characters, e.g. openssl rand -hex 24)'
          : 'expected at least 16 characters';
      ctx.addIssue({ code: 'custom', path: ['CONSOLE_TOKEN'], message });
    }
  });

export type ConsoleConfig = z.infer<typeof ConsoleEnv>;
