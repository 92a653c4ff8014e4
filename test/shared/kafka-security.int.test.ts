/**
 * A broker as managed clusters run it: its only client listener takes SASL/SCRAM (controller and
 * inter-broker traffic on listeners of their own). The services, the operations CLI and the
 * launcher get in with KAFKA_SASL_* and are turned away, in one line that says why, without.
 * LOCAL_KAFKA_VERSION picks the broker release (jars launcher only).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Header } from '../../shared/headers.js';
import { createLogger } from '../../shared/logging.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicNames } from '../../shared/topics.js';
import { runCli } from '../../tools/cli/commands.js';
import { startLocalPipeline } from '../../tools/cli/local-pipeline.js';
import { captureOut } from '../../shared/operations/output.js';
import { startKafkaBroker, startLocalInfra, type KafkaBroker } from '../../tools/infra/launcher.js';
import { postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { startTopicReader } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const USER = { username: 'cognigy-stream', password: `pw-${randomBytes(8).toString('hex')}` };
const WRONG_PASSWORD = `wrong-${randomBytes(8).toString('hex')}`;
const WEBHOOK_SECRET = 'sasl-webhook-secret';

const credentials = (mechanism: 'scram-sha-256' | 'scram-sha-512', password = USER.password) => ({
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: USER.username,
  KAFKA_SASL_PASSWORD: password,
});

let broker: KafkaBroker;
const registryUrl = () => testInfra().schemaRegistryUrl;

beforeAll(async () => {
  broker = await startKafkaBroker({ scram: USER });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
});

/** Runs a service's main as its own process, as a supervisor would, and returns how it ended. */
function runService(main: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', main], { cwd: repo, env: { ...process.env, ...env }, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

/** Sets variables for the launcher, which reads process.env, and restores them afterwards. */
async function withEnv<T>(env: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await work();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('with KAFKA_SASL_* set', () => {
  it('every service signs in with SCRAM-SHA-512, and a signed callback becomes a result and an acknowledgment', async () => {
    const prefix = `${uniqueName('sasl')}.`;
    const topics = topicNames(prefix);
    const pipeline = await startLocalPipeline({
      kafkaBrokers: broker.brokers,
      schemaRegistryUrl: registryUrl(),
      logger: createLogger('sasl-pipeline', 'error'),
      env: {
        ...credentials('scram-sha-512'),
        TOPIC_PREFIX: prefix,
        TOPIC_PARTITIONS: '2',
        FULFILLMENT_GROUP_ID: `${prefix}fulfillment`,
        ACK_GROUP_ID: `${prefix}acks`,
        SESSION_WRITER_GROUP_ID: `${prefix}sessions`,
        COGNIGY_WEBHOOK_SECRETS: WEBHOOK_SECRET,
        INGRESS_PORT: '0',
        INGRESS_HOST: '127.0.0.1',
        FULFILLMENT_PORT: '0',
        ACK_AGGREGATOR_PORT: '0',
        SESSION_WRITER_PORT: '0',
        ACK_WINDOW_MS: '500',
        LOG_LEVEL: 'error',
      },
    });
    const results = await startTopicReader(broker.brokers, [topics.results], { readCommitted: true, security: broker.security });
    try {
      const callback = { eventType: 'intent_fulfillment', sessionId: 'sasl-session', intent: 'book_flight', confidence: 0.94 };
      const answer = await postSigned(pipeline.ingress.url, callback, {}, WEBHOOK_SECRET);
      expect(answer.status).toBe(202);
      const eventId = String(answer.json.eventId);

      const record = await waitFor(() => results.records.find((r) => r.headers[Header.eventId] === eventId), {
        timeoutMs: 60_000,
        what: 'the callback as a result on the results topic',
      });
      const result = await new TopicSerde(createRegistry(registryUrl()), topics.results, 'FulfillmentResult').decode(record.value as Buffer);
      expect(result).toMatchObject({ eventId, sessionId: 'sasl-session', route: 'FULFILLED' });
      await waitFor(() => pipeline.simulator.cognigy.acknowledged.has(eventId), { timeoutMs: 60_000, what: 'the acknowledgment to Cognigy' });
    } finally {
      await results.stop();
      await pipeline.stop();
    }
  }, 180_000);

  it('the operations CLI signs in with SCRAM-SHA-256', async () => {
    const env = { KAFKA_BROKERS: broker.brokers, SCHEMA_REGISTRY_URL: registryUrl(), TOPIC_PREFIX: `${uniqueName('sasl-cli')}.`, LOG_LEVEL: 'error' };
    const out = captureOut();
    const err = captureOut();
    expect(await runCli(['topics', 'ensure'], { env: { ...env, ...credentials('scram-sha-256') }, out, err }), err.text()).toBe(0);
    expect(out.text()).toContain(`${env.TOPIC_PREFIX}cognigy.callbacks.v1`);

    const refused = captureOut();
    expect(await runCli(['topics', 'describe'], { env: { ...env, ...credentials('scram-sha-256', WRONG_PASSWORD) }, out: captureOut(), err: refused })).toBe(1);
    expect(refused.text()).toMatch(/^error: Kafka \(.+\) refused SASL authentication as cognigy-stream \(scram-sha-256\): .*invalid credentials.*; check KAFKA_SASL_USERNAME/);
    expect(refused.text().trim().split('\n')).toHaveLength(1);
  });

  it('the launcher checks an external cluster with the same credentials, and stops at once when they are refused', async () => {
    const env = { KAFKA_BROKERS: broker.brokers, SCHEMA_REGISTRY_URL: registryUrl() };
    const infra = await withEnv({ ...env, ...credentials('scram-sha-512') }, () => startLocalInfra());
    expect(infra).toMatchObject({ runtime: 'external', kafkaBrokers: broker.brokers });
    await infra.stop();

    const started = Date.now();
    const refusal = await withEnv({ ...env, ...credentials('scram-sha-512', WRONG_PASSWORD) }, () => startLocalInfra()).catch((error: Error) => error);
    expect(refusal).toBeInstanceOf(Error);
    expect((refusal as Error).message).toMatch(/refused SASL authentication as cognigy-stream \(scram-sha-512\)/);
    expect((refusal as Error).message).not.toContain(WRONG_PASSWORD);
    // The external check waits up to 30 s for a cluster that does not answer yet; a refusal ends it.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('without the right credentials, a service stops at start with exit code 2 and one line naming SASL authentication', () => {
  const serviceEnv = () => ({
    KAFKA_BROKERS: broker.brokers,
    SCHEMA_REGISTRY_URL: registryUrl(),
    TOPIC_PREFIX: `${uniqueName('sasl-refused')}.`,
    COGNIGY_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    INGRESS_PORT: '0',
    INGRESS_ADMIN_PORT: '0',
    INGRESS_HOST: '127.0.0.1',
    FULFILLMENT_PORT: '0',
    LOG_LEVEL: 'warn',
  });

  it('a wrong password (ingress)', async () => {
    const run = await runService('services/ingress/main.ts', { ...serviceEnv(), ...credentials('scram-sha-512', WRONG_PASSWORD) });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      /^configuration error: Kafka \(127\.0\.0\.1:\d+\) refused SASL authentication as cognigy-stream \(scram-sha-512\): SASL SCRAM SHA512 authentication failed: .*invalid credentials.*; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM\n$/,
    );
    expect(run.stdout + run.stderr).not.toContain(WRONG_PASSWORD);
  }, 120_000);

  it('no credentials at all (fulfillment, a consumer stage)', async () => {
    const run = await runService('services/fulfillment/main.ts', serviceEnv());
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(
      /^configuration error: Kafka \(127\.0\.0\.1:\d+\) closed the connection before answering, as a listener that requires SASL authentication or TLS does with a client that has neither: set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD \(and KAFKA_SSL for TLS\)\n$/,
    );
  }, 120_000);
});
