import { readFileSync } from 'node:fs';
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

/** Something the machine lacks (a command, a runtime version): the message says what to install. */
export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
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
    if (error instanceof PrerequisiteError) {
      process.stderr.write(`${error.message}\n`);
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
  /** An optional value; empty counts as unset, as a compose file passes `${NAME:-}` through. */
  text: () =>
    z
      .string()
      .optional()
      .transform((v) => (v === undefined || v.trim() === '' ? undefined : v)),
  /** An optional PEM file, read at start: its path and its text. */
  pemFile: () =>
    z
      .string()
      .optional()
      .transform((path, ctx) => {
        if (path === undefined || path.trim() === '') return undefined;
        let pem: string;
        try {
          pem = readFileSync(path, 'utf8');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `expected a readable PEM file, cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})` });
          return z.NEVER;
        }
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
          ctx.addIssue({ code: 'custom', message: `expected a PEM file with a -----BEGIN CERTIFICATE----- block, got ${path}` });
          return z.NEVER;
        }
        return { path, pem };
      }),
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

/**
 * How the clients prove themselves to a managed cluster (MSK, Confluent Cloud, Strimzi) and its
 * registry. How the variables combine is checked by checkClientSecurity (shared/client-settings.ts)
 * in each schema that spreads these.
 */
export const securityEnv = {
  KAFKA_SSL: env.bool(false),
  /** The CA to trust instead of the system's; implies TLS. Read here, so a missing file stops the start. */
  KAFKA_SSL_CA_FILE: env.pemFile(),
  KAFKA_SASL_MECHANISM: env
    .text()
    .pipe(z.enum(['plain', 'scram-sha-256', 'scram-sha-512'], { error: 'expected plain, scram-sha-256 or scram-sha-512' }).optional()),
  KAFKA_SASL_USERNAME: env.text(),
  KAFKA_SASL_PASSWORD: env.text(),
  /** HTTP Basic, as Confluent Cloud's registry wants it (an API key and its secret). */
  SCHEMA_REGISTRY_USERNAME: env.text(),
  SCHEMA_REGISTRY_PASSWORD: env.text(),
};

/** Settings every service shares: where Kafka and the registry are, topic naming, logging. */
export const commonEnv = {
  KAFKA_BROKERS: env.list('127.0.0.1:9092').refine((l) => l.length > 0, 'expected host:port[,host:port]'),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  SCHEMA_REGISTRY_URL: env.url('http://127.0.0.1:8081'),
  ...securityEnv,
  TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'expected letters, digits, dot, dash or underscore').default(''),
  TOPIC_PARTITIONS: env.int(6, 1, 10_000),
  TOPIC_REPLICATION_FACTOR: env.int(1, 1, 32),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PAYLOADS: env.bool(false),
  /** auto: readable lines when stdout is a terminal, JSON otherwise (see shared/logging.ts). */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty'], { error: 'expected auto, json or pretty' }).default('auto'),
  SHUTDOWN_TIMEOUT_MS: env.int(15_000, 100, 600_000),
  NODE_ENV: z.string().default('development'),
};
