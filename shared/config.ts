import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Parses the environment against a service's zod schema. A bad value stops the start with one
 * line naming the variable and what was expected, rather than a stack trace.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(describeIssues(parsed.error));
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`)
    .join('; ');
}

/** Runs a service's main, turning a configuration error into one clear line and exit code 2. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

/** Env helpers: every variable arrives as a string or not at all. */
export const env = {
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => {
    const expected = `expected an integer from ${min} to ${max}`;
    return z.coerce.number({ error: expected }).int(expected).min(min, expected).max(max, expected).default(fallback);
  },
  number: (fallback: number, min = -Infinity, max = Infinity) => {
    const expected = `expected a number from ${min} to ${max}`;
    return z.coerce.number({ error: expected }).min(min, expected).max(max, expected).default(fallback);
  },
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  list: (fallback = '') =>
    z
      .string()
      .default(fallback)
      .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0)),
  url: (fallback?: string) => (fallback === undefined ? z.string().url() : z.string().url().default(fallback)),
  /** A comma list of IPv4/IPv6 CIDRs (`10.0.0.0/8,2001:db8::/32`); a bare address is one host. */
  cidrs: () =>
    z
      .string()
      .default('')
      .transform((text, ctx) => {
        const cidrs: Cidr[] = [];
        for (const entry of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
          const cidr = parseCidr(entry);
          if (cidr) cidrs.push(cidr);
          else ctx.addIssue({ code: 'custom', message: `expected IPv4 or IPv6 CIDRs such as 10.0.0.0/8,2001:db8::/32, got "${entry}"` });
        }
        return cidrs;
      }),
};

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseCidr(text: string): Cidr | undefined {
  const [address = '', prefixText, ...rest] = text.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  return prefix <= bits ? { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' } : undefined;
}

/** Settings every service shares: where Kafka and the registry are, topic naming, logging. */
export const commonEnv = {
  KAFKA_BROKERS: env.list('127.0.0.1:9092').refine((l) => l.length > 0, 'expected host:port[,host:port]'),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8081'),
  TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'expected letters, digits, dot, dash or underscore').default(''),
  TOPIC_PARTITIONS: env.int(6, 1, 10_000),
  TOPIC_REPLICATION_FACTOR: env.int(1, 1, 32),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PAYLOADS: env.bool(false),
  SHUTDOWN_TIMEOUT_MS: env.int(15_000, 100, 600_000),
  NODE_ENV: z.string().default('development'),
};
