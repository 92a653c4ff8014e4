import { z } from 'zod';
import { commonEnv, env } from '../../shared/config.js';
import { checkClientSecurity } from '../../shared/client-settings.js';
import { checkTopicCatalog, topicCatalogEnv } from '../../shared/topic-catalog.js';
import { DEFAULT_PATHS, FIELD_NAMES, parsePathList, pathsVariable, type FieldName, type FieldPaths, type PathsVariable } from './callback-fields.js';

export const AUTH_SCHEMES = ['hmac', 'basic', 'api-key', 'standard-webhooks'] as const;
export type AuthScheme = (typeof AUTH_SCHEMES)[number];

/** CALLBACK_PATHS_<FIELD>: an ordered comma list of dotted JSON paths, replacing that field's defaults. */
const pathsEnv = Object.fromEntries(
  FIELD_NAMES.map((field) => [
    pathsVariable(field),
    z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined || text.trim() === '') return DEFAULT_PATHS[field];
        const parsed = parsePathList(text);
        if (parsed.ok) return parsed.paths;
        ctx.addIssue({ code: 'custom', message: parsed.error });
        return z.NEVER;
      }),
  ]),
) as unknown as Record<PathsVariable, z.ZodType<readonly string[], string | undefined>>;

export const IngressEnv = z
  .object({
    ...commonEnv,
    ...topicCatalogEnv,
    INGRESS_PORT: env.int(8080, 0, 65_535),
    INGRESS_HOST: z.string().default('0.0.0.0'),
    /** /healthz, /readyz and /metrics: kept off the public port, for probes and scrapers only. */
    INGRESS_ADMIN_PORT: env.int(8081, 0, 65_535),
    INGRESS_ALLOWED_CIDRS: env.cidrs(),
    INGRESS_TRUSTED_PROXIES: env.cidrs(),
    INGRESS_HEADERS_TIMEOUT_MS: env.int(10_000, 100, 300_000),
    INGRESS_REQUEST_TIMEOUT_MS: env.int(30_000, 100, 600_000),
    // Above the 60 s idle timeout of common load balancers, so the balancer, not the ingress, closes an
    // idle connection and never sends a request down one that is being closed.
    INGRESS_KEEP_ALIVE_TIMEOUT_MS: env.int(65_000, 100, 600_000),
    INGRESS_AUTH: env.list('hmac').pipe(z.array(z.enum(AUTH_SCHEMES)).min(1, 'expected at least one of ' + AUTH_SCHEMES.join(','))),
    COGNIGY_WEBHOOK_SECRETS: env.list(),
    INGRESS_BASIC_USERS: env.list().pipe(z.array(z.string().regex(/^[^:]+:.+$/, 'expected user:pass entries'))),
    INGRESS_API_KEY_HEADER: z.string().min(1).default('X-Cognigy-Api-Key').transform((h) => h.toLowerCase()),
    COGNIGY_API_KEYS: env.list(),
    STANDARD_WEBHOOKS_SECRETS: env.list().pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, 'expected whsec_<base64> entries'))),
    INGRESS_TIMESTAMP_TOLERANCE_S: env.int(300, 1, 86_400),
    INGRESS_DEDUP_WINDOW_S: env.int(300, 0, 86_400),
    INGRESS_DEDUP_MAX_ENTRIES: env.int(500_000, 1, 50_000_000),
    INGRESS_MAX_BODY_BYTES: env.int(524_288, 1_024, 16 * 1024 * 1024),
    INGRESS_MAX_IN_FLIGHT: env.int(2_000, 1, 1_000_000),
    INGRESS_LINGER_MS: env.int(2, 0, 1_000),
    INGRESS_MAX_BATCH: env.int(1_000, 1, 100_000),
    INGRESS_PRODUCE_TIMEOUT_MS: env.int(5_000, 100, 120_000),
    INGRESS_RETRY_AFTER_S: env.int(2, 1, 3_600),
    SIMULATOR_ENABLED: env.bool(false),
    INGRESS_ACCEPTED_STATUS: z.string().trim().min(1, 'expected a status word such as accepted or success').max(64).default('accepted'),
    INGRESS_ACCEPTED_CODE: z
      .enum(['200', '202'], { error: 'expected 200 or 202' })
      .default('202')
      .transform((code) => Number(code) as 200 | 202),
    ...pathsEnv,
  })
  .superRefine((c, ctx) => {
    checkTopicCatalog(c, ctx);
    checkClientSecurity(c, ctx);
    // A value already refused on its own is not compared with another: one line per mistake.
    const refused = new Set(ctx.issues.map((issue) => issue.path?.[0]));
    const sound = (...names: (keyof typeof c)[]) => names.every((name) => !refused.has(name));
    if (sound('INGRESS_PORT', 'INGRESS_ADMIN_PORT') && c.INGRESS_ADMIN_PORT !== 0 && c.INGRESS_ADMIN_PORT === c.INGRESS_PORT) {
      ctx.addIssue({ code: 'custom', path: ['INGRESS_ADMIN_PORT'], message: 'expected a port other than INGRESS_PORT' });
    }
    // node refuses a server whose headers may take longer than the whole request.
    if (sound('INGRESS_HEADERS_TIMEOUT_MS', 'INGRESS_REQUEST_TIMEOUT_MS') && c.INGRESS_HEADERS_TIMEOUT_MS > c.INGRESS_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['INGRESS_HEADERS_TIMEOUT_MS'], message: `expected at most INGRESS_REQUEST_TIMEOUT_MS (${c.INGRESS_REQUEST_TIMEOUT_MS})` });
    }
    const need: [AuthScheme, keyof typeof c, string][] = [
      ['hmac', 'COGNIGY_WEBHOOK_SECRETS', 'at least one secret when INGRESS_AUTH includes hmac'],
      ['basic', 'INGRESS_BASIC_USERS', 'at least one user:pass when INGRESS_AUTH includes basic'],
      ['api-key', 'COGNIGY_API_KEYS', 'at least one key when INGRESS_AUTH includes api-key'],
      ['standard-webhooks', 'STANDARD_WEBHOOKS_SECRETS', 'at least one whsec_ secret when INGRESS_AUTH includes standard-webhooks'],
    ];
    for (const [scheme, variable, message] of need) {
      const values = c[variable] as string[];
      if (c.INGRESS_AUTH.includes(scheme) && values.length === 0) {
        ctx.addIssue({ code: 'custom', path: [variable], message: `expected ${message}` });
      }
    }
  });

export type IngressConfig = z.infer<typeof IngressEnv>;

/** The field paths in force: each field's CALLBACK_PATHS_<FIELD>, or its defaults. */
export function callbackPaths(config: IngressConfig): FieldPaths {
  return Object.fromEntries(FIELD_NAMES.map((field) => [field, config[pathsVariable(field)]])) as Record<FieldName, readonly string[]>;
}
