/**
 * A schema registry behind HTTP Basic, as Confluent Cloud runs it: a small proxy that asks for
 * credentials stands in front of the test registry. With SCHEMA_REGISTRY_USERNAME and _PASSWORD the
 * services register and look up schemas through it; without them the start stops on a clear 401.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngress } from '../../services/ingress/service.js';
import { clientSettings } from '../../shared/client-settings.js';
import { ConfigError } from '../../shared/config.js';
import { Header } from '../../shared/headers.js';
import { createRegistry, RegistryAccessRefused, TopicSerde } from '../../shared/serde.js';
import { topicNames } from '../../shared/topics.js';
import { startLocalInfra } from '../../tools/infra/launcher.js';
import { ingressConfig, postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { startTopicReader } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

const KEY = 'SRKEY42';
const SECRET = `srsecret-${randomBytes(8).toString('hex')}`;
const WRONG = `wrong-${randomBytes(8).toString('hex')}`;

interface BasicAuthProxy {
  url: string;
  /** Requests let through and requests answered 401. */
  seen: { authorized: number; refused: number };
  close(): Promise<void>;
}

/** Forwards to `upstream` what carries `Basic KEY:SECRET`; answers anything else 401, as Confluent Cloud does. */
async function startBasicAuthProxy(upstream: string): Promise<BasicAuthProxy> {
  const expected = `Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`;
  const seen = { authorized: 0, refused: 0 };
  const server = createServer((req, res) => {
    void (async () => {
      if (req.headers.authorization !== expected) {
        seen.refused += 1;
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="schema-registry"' });
        res.end(JSON.stringify({ error_code: 401, message: 'Unauthorized' }));
        return;
      }
      seen.authorized += 1;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const answer = await fetch(`${upstream}${req.url ?? '/'}`, {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json', accept: req.headers.accept ?? '*/*' },
        body: hasBody ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await answer.arrayBuffer()));
    })().catch((error: unknown) => {
      res.writeHead(502);
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let proxy: BasicAuthProxy;

beforeAll(async () => {
  proxy = await startBasicAuthProxy(testInfra().schemaRegistryUrl);
});

afterAll(async () => {
  await proxy?.close();
});

const ingressEnv = (prefix: string, credentials: Record<string, string>) =>
  ingressConfig({ KAFKA_BROKERS: testInfra().kafkaBrokers, SCHEMA_REGISTRY_URL: proxy.url, TOPIC_PREFIX: prefix, ...credentials });

describe('a registry that asks for HTTP Basic', () => {
  it('takes the ingress registration and a lookup by id with SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD', async () => {
    const prefix = `${uniqueName('registry-basic')}.`;
    const config = ingressEnv(prefix, { SCHEMA_REGISTRY_USERNAME: KEY, SCHEMA_REGISTRY_PASSWORD: SECRET });
    const before = { ...proxy.seen };
    const ingress = await startIngress(config);
    const callbacks = await startTopicReader(testInfra().kafkaBrokers, [topicNames(prefix).callbacks]);
    try {
      const answer = await postSigned(ingress.url, { eventType: 'flow_execution', sessionId: 'basic-session', flowName: 'Main' });
      expect(answer.status).toBe(202);
      const record = await waitFor(() => callbacks.records.find((r) => r.headers[Header.eventId] === answer.json.eventId), {
        timeoutMs: 30_000,
        what: 'the callback on the callbacks topic',
      });
      // A client of its own: nothing cached, so the writer schema is fetched by id through the proxy.
      const { registry } = clientSettings(config, 'registry-test');
      const serde = new TopicSerde(createRegistry(registry.url, registry.auth), topicNames(prefix).callbacks, 'CognigyCallback');
      expect(await serde.decode(record.value as Buffer)).toMatchObject({ eventId: answer.json.eventId, sessionId: 'basic-session' });
    } finally {
      await callbacks.stop();
      await ingress.stop();
    }
    expect(proxy.seen.refused - before.refused).toBe(0);
    // The ingress registering its subject, then the lookup of the schema by id.
    expect(proxy.seen.authorized - before.authorized).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['without credentials', {}],
    ['with a wrong password', { SCHEMA_REGISTRY_USERNAME: KEY, SCHEMA_REGISTRY_PASSWORD: WRONG }],
  ])('stops the ingress start %s, on a 401 that names the variables', async (_case, credentials) => {
    const prefix = `${uniqueName('registry-refused')}.`;
    const refusal = await startIngress(ingressEnv(prefix, credentials)).then(
      async (ingress) => {
        await ingress.stop();
        throw new Error('the ingress started');
      },
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(RegistryAccessRefused);
    // A ConfigError: runMain prints it as one line, "configuration error: ...", and exits 2.
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as Error).message).toMatch(
      /^the schema registry answered 401 Unauthorized to (GET|POST) http:\/\/127\.0\.0\.1:\d+\/\S+: set or check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD$/,
    );
    expect((refusal as Error).message).not.toContain(WRONG);
  });

  it('is checked by the launcher with the same credentials; a 401 ends the wait at once', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { KAFKA_BROKERS: testInfra().kafkaBrokers, SCHEMA_REGISTRY_URL: proxy.url, SCHEMA_REGISTRY_USERNAME: KEY, SCHEMA_REGISTRY_PASSWORD: SECRET });
      const infra = await startLocalInfra();
      expect(infra).toMatchObject({ runtime: 'external', schemaRegistryUrl: proxy.url });
      await infra.stop();

      delete process.env.SCHEMA_REGISTRY_USERNAME;
      delete process.env.SCHEMA_REGISTRY_PASSWORD;
      const started = Date.now();
      await expect(startLocalInfra()).rejects.toThrow(
        /^the schema registry in SCHEMA_REGISTRY_URL \(.+\): the schema registry answered 401: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD/,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const name of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'SCHEMA_REGISTRY_USERNAME', 'SCHEMA_REGISTRY_PASSWORD']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
