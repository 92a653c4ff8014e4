import { afterAll, beforeAll, expect, it } from 'vitest';
import { signHmac } from '../../services/ingress/auth.js';
import { startIngress, type IngressHandle } from '../../services/ingress/service.js';
import { topicNames } from '../../shared/topics.js';
import { startKafkaBroker, type KafkaBroker } from '../../tools/infra/launcher.js';
import { startTopicReader } from '../support/topic-reader.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { ingressConfig, postSigned, SECRET } from './support.js';

// A broker of its own, so stopping it does not disturb the other test files.
let broker: KafkaBroker;
let ingress: IngressHandle;
const prefix = uniqueName('outage') + '.';

beforeAll(async () => {
  broker = await startKafkaBroker();
  ingress = await startIngress(
    ingressConfig({
      KAFKA_BROKERS: broker.brokers,
      SCHEMA_REGISTRY_URL: testInfra().schemaRegistryUrl,
      TOPIC_PREFIX: prefix,
      INGRESS_PRODUCE_TIMEOUT_MS: '3000',
      INGRESS_RETRY_AFTER_S: '1',
    }),
  );
}, 180_000);

afterAll(async () => {
  await ingress?.stop().catch(() => undefined);
  await broker?.destroy();
});

const callback = (seq: number) => ({ eventType: 'flow_execution', sessionId: 'outage-session', flowName: 'Main', seq });

it('answers 503 with Retry-After and never a 2xx while the broker is down, and recovers when it returns', async () => {
  expect((await postSigned(ingress.url, callback(0))).status).toBe(202);

  await broker.stop();
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 1; i <= 20; i += 1) {
    const body = JSON.stringify(callback(i));
    const response = await fetch(`${ingress.url}/webhooks/cognigy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cognigy-signature': signHmac(body, SECRET) },
      body,
    });
    statuses.push(response.status);
    retryAfter ??= response.headers.get('retry-after');
  }
  expect(statuses.every((s) => s === 503)).toBe(true);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect((await fetch(`${ingress.adminUrl}/readyz`)).status).toBe(503);

  await broker.start();
  const recovered = await waitFor(
    async () => {
      const answer = await postSigned(ingress.url, callback(100));
      return answer.status === 202 ? answer : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500, what: 'a 202 after the broker returned' },
  );
  expect(recovered.json).toMatchObject({ status: 'accepted' });

  // Both callbacks answered 202 are on the topic. A 503'd one may land too (the client may still
  // complete it): refusing what was stored is safe, acknowledging what was not never happens.
  const reader = await startTopicReader(broker.brokers, [topicNames(prefix).callbacks]);
  try {
    await waitFor(() => reader.records.length >= 2, { timeoutMs: 30_000, what: 'records after recovery' });
    const seqs = reader.records.map((r) => r.value?.toString('latin1') ?? '').map((v) => /"seq":(\d+)/.exec(v)?.[1]);
    expect(seqs).toContain('0');
    expect(seqs).toContain('100');
  } finally {
    await reader.stop();
  }
}, 240_000);
