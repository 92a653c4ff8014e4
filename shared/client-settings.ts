/**
 * From the parsed settings to the Kafka and registry clients' settings: where the brokers and the
 * registry are and how a client proves itself to them (TLS, SASL, HTTP Basic). Pure: the CA file was
 * read when the configuration was parsed.
 */
import type { z } from 'zod';
import { ConfigError } from './config.js';
import type { Admin, KafkaSecurity, KafkaSettings } from './kafka.js';
import type { RegistryAuth } from './serde.js';

/** The credentials fields of commonEnv (securityEnv), as parsed. */
export interface SecurityConfig {
  KAFKA_SSL: boolean;
  KAFKA_SSL_CA_FILE?: { path: string; pem: string } | undefined;
  KAFKA_SASL_MECHANISM?: 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
  SCHEMA_REGISTRY_USERNAME?: string | undefined;
  SCHEMA_REGISTRY_PASSWORD?: string | undefined;
}

/** The commonEnv fields the clients are built from. */
export interface ClientConfig extends SecurityConfig {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID?: string | undefined;
  SCHEMA_REGISTRY_URL: string;
}

export interface ClientSettings {
  kafka: KafkaSettings;
  registry: { url: string; auth?: RegistryAuth };
}

interface Issue {
  variable: keyof SecurityConfig;
  message: string;
}

/**
 * The combinations that cannot work: a SASL mechanism without both credentials, credentials
 * without a mechanism, half of the registry's credentials. Values are never quoted back.
 */
export function clientSecurityIssues(c: SecurityConfig): Issue[] {
  const issues: Issue[] = [];
  if (c.KAFKA_SASL_MECHANISM !== undefined) {
    if (c.KAFKA_SASL_USERNAME === undefined) issues.push({ variable: 'KAFKA_SASL_USERNAME', message: 'expected a username when KAFKA_SASL_MECHANISM is set' });
    if (c.KAFKA_SASL_PASSWORD === undefined) issues.push({ variable: 'KAFKA_SASL_PASSWORD', message: 'expected a password when KAFKA_SASL_MECHANISM is set' });
  } else {
    const given = (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const).find((name) => c[name] !== undefined);
    if (given) issues.push({ variable: 'KAFKA_SASL_MECHANISM', message: `expected plain, scram-sha-256 or scram-sha-512 when ${given} is set` });
  }
  const registryUser = c.SCHEMA_REGISTRY_USERNAME !== undefined;
  if (registryUser !== (c.SCHEMA_REGISTRY_PASSWORD !== undefined)) {
    issues.push(
      registryUser
        ? { variable: 'SCHEMA_REGISTRY_PASSWORD', message: 'expected a password when SCHEMA_REGISTRY_USERNAME is set' }
        : { variable: 'SCHEMA_REGISTRY_USERNAME', message: 'expected a username when SCHEMA_REGISTRY_PASSWORD is set' },
    );
  }
  return issues;
}

/** For a service's superRefine, beside checkTopicCatalog: each bad combination as an issue on its variable. */
export function checkClientSecurity(c: SecurityConfig, ctx: z.RefinementCtx): void {
  for (const issue of clientSecurityIssues(c)) ctx.addIssue({ code: 'custom', path: [issue.variable], message: issue.message });
}

/** What the Kafka client needs beyond the broker list: TLS when asked for or implied by a CA file, SASL when a mechanism is set. */
export function kafkaSecurity(c: SecurityConfig): KafkaSecurity {
  const [issue] = clientSecurityIssues(c);
  if (issue) throw new ConfigError(`${issue.variable}: ${issue.message}`);
  const security: KafkaSecurity = {};
  if (c.KAFKA_SSL_CA_FILE) security.ssl = { ca: c.KAFKA_SSL_CA_FILE.pem };
  else if (c.KAFKA_SSL) security.ssl = true;
  if (c.KAFKA_SASL_MECHANISM && c.KAFKA_SASL_USERNAME !== undefined && c.KAFKA_SASL_PASSWORD !== undefined) {
    security.sasl = { mechanism: c.KAFKA_SASL_MECHANISM, username: c.KAFKA_SASL_USERNAME, password: c.KAFKA_SASL_PASSWORD };
  }
  return security;
}

/** The registry's HTTP Basic credentials, if both are set. */
export function registryAuth(c: SecurityConfig): RegistryAuth | undefined {
  return c.SCHEMA_REGISTRY_USERNAME !== undefined && c.SCHEMA_REGISTRY_PASSWORD !== undefined
    ? { username: c.SCHEMA_REGISTRY_USERNAME, password: c.SCHEMA_REGISTRY_PASSWORD }
    : undefined;
}

/** Both clients' settings from the parsed configuration; `clientId` unless KAFKA_CLIENT_ID overrides it. */
export function clientSettings(c: ClientConfig, clientId: string): ClientSettings {
  return {
    kafka: { brokers: c.KAFKA_BROKERS, clientId: c.KAFKA_CLIENT_ID ?? clientId, ...kafkaSecurity(c) },
    registry: { url: c.SCHEMA_REGISTRY_URL, auth: registryAuth(c) },
  };
}

/**
 * Kafka did not let the client in. Settings, like a bad variable: the same start fails the same way
 * until they change, and the one line says which to look at.
 */
export class KafkaAccessRefused extends ConfigError {
  override name = 'KafkaAccessRefused';
  constructor(
    message: string,
    /**
     * credentials: the broker said no to them; certificate: this client does not trust the broker's;
     * hung-up: the broker closed the connection of a client without TLS or SASL it requires.
     */
    readonly reason: 'credentials' | 'certificate' | 'hung-up',
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The first connection's failure, in one line naming what to set when it is about getting in:
 * credentials the broker refused, a broker certificate this client does not trust, or a broker
 * that hangs up on a client without the TLS or SASL its listener requires. Any other error is
 * returned as it is.
 */
export function explainAccessFailure(error: unknown, settings: KafkaSecurity & { brokers: string[] }): unknown {
  const chain = causes(error);
  const found = (name: string, text = /./) => chain.find((e) => e.name === name && text.test(e.message));
  const where = `Kafka (${settings.brokers.join(',')})`;
  const refused = found('KafkaJSSASLAuthenticationError');
  if (settings.sasl && refused) {
    return new KafkaAccessRefused(
      `${where} refused SASL authentication as ${settings.sasl.username} (${settings.sasl.mechanism}): ${refused.message}; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM`,
      'credentials',
      { cause: error },
    );
  }
  const untrusted = found('KafkaJSConnectionError', /certificate/i);
  if (settings.ssl && untrusted) {
    return new KafkaAccessRefused(
      `${where} presented a certificate this client does not trust (${untrusted.message}): set KAFKA_SSL_CA_FILE to the PEM of the CA that signed it`,
      'certificate',
      { cause: error },
    );
  }
  if (!found('KafkaJSConnectionClosedError') || (settings.sasl && settings.ssl)) return error;
  const closed = `${where} closed the connection before answering`;
  const message = settings.sasl
    ? `${closed}, as a TLS listener does with a plaintext client: set KAFKA_SSL=true (and KAFKA_SSL_CA_FILE for a private CA)`
    : settings.ssl
      ? `${closed}, as a listener that requires SASL authentication does with a client without credentials: set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`
      : `${closed}, as a listener that requires SASL authentication or TLS does with a client that has neither: ` +
        'set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_SSL for TLS)';
  return new KafkaAccessRefused(message, 'hung-up', { cause: error });
}

/**
 * Connects the admin client and asks for the cluster's metadata: a broker that requires SASL lets
 * a client without credentials connect and only hangs up at its first real request, so this is
 * where a client that is not let in finds out, in one line (explainAccessFailure).
 */
export async function connectAdmin(admin: Admin, settings: KafkaSecurity & { brokers: string[] }): Promise<void> {
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw explainAccessFailure(error, settings);
  }
}

/** The error and the ones it wraps (kafkajs wraps the last attempt's error when it gives up retrying). */
function causes(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let e = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  return chain;
}
