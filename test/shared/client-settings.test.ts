import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { clientSettings, explainAccessFailure, KafkaAccessRefused } from '../../shared/client-settings.js';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { configError, configurations } from '../support/configurations.js';

const PASSWORD = 'pa55-Never-Printed';

const dir = mkdtempSync(join(tmpdir(), 'client-settings-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const notPem = join(dir, 'ca.txt');
writeFileSync(notPem, 'not a certificate\n');

const settingsOf = (env: Record<string, string>) => clientSettings(loadConfig(FulfillmentEnv, { KAFKA_BROKERS: 'b1:9092,b2:9092', ...env }), 'cognigy-test');

describe('client settings from the environment', () => {
  it('connect without TLS, SASL or registry credentials unless asked to', () => {
    expect(settingsOf({ SCHEMA_REGISTRY_URL: 'http://registry:8081' })).toEqual({
      kafka: { brokers: ['b1:9092', 'b2:9092'], clientId: 'cognigy-test' },
      registry: { url: 'http://registry:8081', auth: undefined },
    });
  });

  it('map KAFKA_SSL, KAFKA_SASL_* and SCHEMA_REGISTRY_* onto the Kafka and registry clients', () => {
    const settings = settingsOf({
      KAFKA_CLIENT_ID: 'payments-east',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc-cognigy',
      KAFKA_SASL_PASSWORD: PASSWORD,
      SCHEMA_REGISTRY_USERNAME: 'SRKEY',
      SCHEMA_REGISTRY_PASSWORD: 'srsecret',
    });
    expect(settings.kafka).toEqual({
      brokers: ['b1:9092', 'b2:9092'],
      clientId: 'payments-east',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'svc-cognigy', password: PASSWORD },
    });
    expect(settings.registry.auth).toEqual({ username: 'SRKEY', password: 'srsecret' });
  });

  it('trust the CA in KAFKA_SSL_CA_FILE, which turns TLS on by itself', () => {
    expect(settingsOf({ KAFKA_SSL_CA_FILE: caFile }).kafka.ssl).toEqual({ ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' });
    expect(settingsOf({ KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: caFile }).kafka.ssl).toMatchObject({ ca: expect.any(String) });
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])('take SASL mechanism %s', (mechanism) => {
    const settings = settingsOf({ KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    expect(settings.kafka.sasl).toEqual({ mechanism, username: 'u', password: 'p' });
    expect(settings.kafka.ssl).toBeUndefined();
  });

  it('count empty variables as unset, as a compose file passes ${NAME:-} through', () => {
    const empty = { KAFKA_SSL_CA_FILE: '', KAFKA_SASL_MECHANISM: '', KAFKA_SASL_USERNAME: ' ', KAFKA_SASL_PASSWORD: '', SCHEMA_REGISTRY_USERNAME: '' };
    expect(settingsOf(empty).kafka).toEqual({ brokers: ['b1:9092', 'b2:9092'], clientId: 'cognigy-test' });
  });
});

describe.each(configurations)('the %s refuses, in one line naming the variable,', (_name, schema, minimal) => {
  const refusal = (env: Record<string, string>) => configError(() => loadConfig(schema, { ...minimal, ...env }));

  it('a SASL mechanism without a username or password', () => {
    expect(refusal({ KAFKA_SASL_MECHANISM: 'scram-sha-256' })).toBe(
      'KAFKA_SASL_USERNAME: expected a username when KAFKA_SASL_MECHANISM is set; KAFKA_SASL_PASSWORD: expected a password when KAFKA_SASL_MECHANISM is set',
    );
    expect(refusal({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toBe('KAFKA_SASL_PASSWORD: expected a password when KAFKA_SASL_MECHANISM is set');
  });

  it('credentials without a mechanism, never quoting the password', () => {
    expect(refusal({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD })).toBe(
      'KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512 when KAFKA_SASL_USERNAME is set',
    );
    const onlyPassword = refusal({ KAFKA_SASL_PASSWORD: PASSWORD });
    expect(onlyPassword).toBe('KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512 when KAFKA_SASL_PASSWORD is set');
    expect(onlyPassword).not.toContain(PASSWORD);
  });

  it('an unknown mechanism', () => {
    expect(refusal({ KAFKA_SASL_MECHANISM: 'SCRAM', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toBe(
      'KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512',
    );
  });

  it('a CA file that cannot be read or holds no certificate', () => {
    expect(refusal({ KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') })).toBe(
      `KAFKA_SSL_CA_FILE: expected a readable PEM file, cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
    );
    expect(refusal({ KAFKA_SSL_CA_FILE: notPem })).toBe(`KAFKA_SSL_CA_FILE: expected a PEM file with a -----BEGIN CERTIFICATE----- block, got ${notPem}`);
  });

  it('half of the registry credentials, and a KAFKA_SSL that is not a boolean', () => {
    expect(refusal({ SCHEMA_REGISTRY_USERNAME: 'key' })).toBe('SCHEMA_REGISTRY_PASSWORD: expected a password when SCHEMA_REGISTRY_USERNAME is set');
    expect(refusal({ SCHEMA_REGISTRY_PASSWORD: PASSWORD })).toBe('SCHEMA_REGISTRY_USERNAME: expected a username when SCHEMA_REGISTRY_PASSWORD is set');
    expect(refusal({ KAFKA_SSL: 'tls' })).toBe('KAFKA_SSL: expected true or false');
  });
});

describe('a refused first connection', () => {
  const kafkaError = (name: string, message: string, cause?: Error) => Object.assign(new Error(message, { cause }), { name });
  const brokers = ['b1:9096'];

  it('names SASL authentication and the variables when the broker refuses the credentials', () => {
    const refused = kafkaError('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed: invalid credentials');
    const explained = explainAccessFailure(refused, { brokers, sasl: { mechanism: 'scram-sha-512', username: 'svc', password: PASSWORD } });
    expect(explained).toBeInstanceOf(KafkaAccessRefused);
    expect(explained).toBeInstanceOf(ConfigError);
    expect((explained as Error).message).toBe(
      'Kafka (b1:9096) refused SASL authentication as svc (scram-sha-512): SASL SCRAM SHA512 authentication failed: invalid credentials; ' +
        'check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM',
    );
    expect((explained as Error).message).not.toContain(PASSWORD);
  });

  it('finds the refusal inside the error kafkajs gives up retrying with', () => {
    const retried = kafkaError('KafkaJSNumberOfRetriesExceeded', 'retries exceeded', kafkaError('KafkaJSSASLAuthenticationError', 'invalid credentials'));
    expect(explainAccessFailure(retried, { brokers, sasl: { mechanism: 'plain', username: 'svc', password: 'p' } })).toBeInstanceOf(KafkaAccessRefused);
  });

  it('suggests SASL or TLS when a client with neither is hung up on', () => {
    const closed = kafkaError('KafkaJSConnectionClosedError', 'Closed connection');
    expect((explainAccessFailure(closed, { brokers }) as Error).message).toBe(
      'Kafka (b1:9096) closed the connection before answering, as a listener that requires SASL authentication or TLS does with a client that has neither: ' +
        'set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (and KAFKA_SSL for TLS)',
    );
  });

  it('says which of TLS and SASL is missing when only one is set', () => {
    const closed = kafkaError('KafkaJSNumberOfRetriesExceeded', 'Closed connection', kafkaError('KafkaJSConnectionClosedError', 'Closed connection'));
    const sasl = { mechanism: 'scram-sha-512' as const, username: 'svc', password: PASSWORD };
    expect((explainAccessFailure(closed, { brokers, sasl }) as Error).message).toBe(
      'Kafka (b1:9096) closed the connection before answering, as a TLS listener does with a plaintext client: set KAFKA_SSL=true (and KAFKA_SSL_CA_FILE for a private CA)',
    );
    expect((explainAccessFailure(closed, { brokers, ssl: true }) as Error).message).toBe(
      'Kafka (b1:9096) closed the connection before answering, as a listener that requires SASL authentication does with a client without credentials: ' +
        'set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
    );
  });

  it('points at KAFKA_SSL_CA_FILE when the broker certificate is not trusted', () => {
    const untrusted = kafkaError('KafkaJSNumberOfRetriesExceeded', 'x', kafkaError('KafkaJSConnectionError', 'Connection error: unable to verify the first certificate'));
    const explained = explainAccessFailure(untrusted, { brokers, ssl: true });
    expect(explained).toMatchObject({ reason: 'certificate' });
    expect((explained as Error).message).toBe(
      'Kafka (b1:9096) presented a certificate this client does not trust (Connection error: unable to verify the first certificate): ' +
        'set KAFKA_SSL_CA_FILE to the PEM of the CA that signed it',
    );
  });

  it('leaves every other failure as it is', () => {
    const closed = kafkaError('KafkaJSConnectionClosedError', 'Closed connection');
    expect(explainAccessFailure(closed, { brokers, ssl: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' } })).toBe(closed);
    const refusedPort = kafkaError('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED');
    expect(explainAccessFailure(refusedPort, { brokers, ssl: true })).toBe(refusedPort);
    const refused = kafkaError('KafkaJSSASLAuthenticationError', 'invalid credentials');
    expect(explainAccessFailure(refused, { brokers })).toBe(refused);
  });
});
