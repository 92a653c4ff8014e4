/**
 * A SASL_SSL listener, as MSK and Confluent Cloud expose one: the broker's certificate is signed by
 * a CA of its own (made with openssl here) and SCRAM runs inside TLS. With KAFKA_SSL_CA_FILE and
 * KAFKA_SASL_* the clients get in; with either missing, or trusting only the system's CAs, the
 * start stops on one line that names the variable to set. Jars launcher only.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngress } from '../../services/ingress/service.js';
import { KafkaAccessRefused, kafkaSecurity } from '../../shared/client-settings.js';
import { Header } from '../../shared/headers.js';
import { topicNames } from '../../shared/topics.js';
import { startKafkaBroker, type KafkaBroker } from '../../tools/infra/launcher.js';
import { ingressConfig, postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { startTopicReader } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

const USER = { username: 'cognigy-stream', password: `pw-${randomBytes(8).toString('hex')}` };
const SASL = { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: USER.username, KAFKA_SASL_PASSWORD: USER.password };

/**
 * A CA and a broker certificate for 127.0.0.1 signed by it; the broker's PEM keystore holds the
 * encrypted PKCS#8 key and the certificate. PBE-SHA1-3DES, since Java 17 cannot read OpenSSL 3's
 * default PBES2 key encryption ("PBES2 SecretKeyFactory not available").
 */
function makeCertificates(dir: string): { caFile: string; keystoreFile: string; keyPassword: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=cognigy-stream test CA');
  openssl('req', ...ec, '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '1', '-extfile', 'san.cnf');
  const keyPassword = randomBytes(8).toString('hex');
  openssl('pkcs8', '-topk8', '-v1', 'PBE-SHA1-3DES', '-in', 'broker.key', '-out', 'broker.enc.key', '-passout', `pass:${keyPassword}`);
  const keystoreFile = join(dir, 'keystore.pem');
  writeFileSync(keystoreFile, readFileSync(join(dir, 'broker.enc.key'), 'utf8') + readFileSync(join(dir, 'broker.pem'), 'utf8'));
  return { caFile: join(dir, 'ca.pem'), keystoreFile, keyPassword };
}

const dir = mkdtempSync(join(tmpdir(), 'kafka-tls-'));
let broker: KafkaBroker;
let caFile: string;

beforeAll(async () => {
  const certificates = makeCertificates(dir);
  caFile = certificates.caFile;
  broker = await startKafkaBroker({
    scram: USER,
    tls: { keystoreFile: certificates.keystoreFile, keyPassword: certificates.keyPassword, ca: readFileSync(caFile, 'utf8') },
  });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const configOf = (prefix: string, env: Record<string, string>) =>
  ingressConfig({ KAFKA_BROKERS: broker.brokers, SCHEMA_REGISTRY_URL: testInfra().schemaRegistryUrl, TOPIC_PREFIX: prefix, ...env });

describe('a SASL_SSL listener with a private CA', () => {
  it('takes the ingress with KAFKA_SSL_CA_FILE and SCRAM-SHA-256, and a reader with the same settings reads the callback back', async () => {
    const prefix = `${uniqueName('tls')}.`;
    const config = configOf(prefix, { ...SASL, KAFKA_SSL_CA_FILE: caFile });
    const ingress = await startIngress(config);
    const callbacks = await startTopicReader(broker.brokers, [topicNames(prefix).callbacks], { security: kafkaSecurity(config) });
    try {
      const answer = await postSigned(ingress.url, { eventType: 'flow_execution', sessionId: 'tls-session', flowName: 'Main' });
      expect(answer.status).toBe(202);
      await waitFor(() => callbacks.records.find((r) => r.headers[Header.eventId] === answer.json.eventId), {
        timeoutMs: 30_000,
        what: 'the callback on the callbacks topic',
      });
    } finally {
      await callbacks.stop();
      await ingress.stop();
    }
  });

  it.each([
    ['without TLS', SASL, /closed the connection before answering, as a TLS listener does with a plaintext client: set KAFKA_SSL=true/],
    ['trusting only the system CAs', { ...SASL, KAFKA_SSL: 'true' }, /presented a certificate this client does not trust \(.*certificate.*\): set KAFKA_SSL_CA_FILE/],
    [
      'without SASL credentials',
      { KAFKA_SSL_CA_FILE: '<ca>' },
      /closed the connection before answering, as a listener that requires SASL authentication does with a client without credentials/,
    ],
  ])('stops the ingress start %s, in one line naming the variable', async (_case, env, message) => {
    const settings = Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value === '<ca>' ? caFile : value]));
    const refusal = await startIngress(configOf(`${uniqueName('tls-refused')}.`, settings)).then(
      async (ingress) => {
        await ingress.stop();
        throw new Error('the ingress started');
      },
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(KafkaAccessRefused);
    expect((refusal as Error).message).toMatch(new RegExp(`^Kafka \\(127\\.0\\.0\\.1:\\d+\\) ${message.source}`));
    expect((refusal as Error).message).not.toContain('\n');
  }, 60_000);
});
