import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngress, type IngressHandle } from '../../services/ingress/service.js';
import { signHmac } from '../../services/ingress/auth.js';
import { topicNames } from '../../shared/topics.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { ingressConfig, postSigned, SECRET } from './support.js';

const infra = testInfra();
const prefix = uniqueName('ingress') + '.';
const topic = topicNames(prefix).callbacks;
let ingress: IngressHandle;
let reader: { records: ReadRecord[]; stop(): Promise<void> };

const intent = (sessionId: string, extra: Record<string, unknown> = {}) => ({
  eventType: 'intent_fulfillment',
  sessionId,
  userId: 'user-1',
  intent: 'book_flight',
  confidence: 0.94,
  entities: { destination: 'Lisbon' },
  text: 'a flight to Lisbon',
  ...extra,
});

/** Records of one session; a sentinel sent last on the same session proves nothing else is coming. */
async function settle(sessionId: string): Promise<ReadRecord[]> {
  const sentinel = randomUUID();
  const sent = await postSigned(ingress.url, intent(sessionId, { sentinel }));
  expect(sent.status).toBe(202);
  await waitFor(() => reader.records.some((r) => r.key === sessionId && r.value?.includes(sentinel)), { what: 'sentinel record' });
  return reader.records.filter((r) => r.key === sessionId && !r.value?.includes(sentinel));
}

beforeAll(async () => {
  ingress = await startIngress(
    ingressConfig({ KAFKA_BROKERS: infra.kafkaBrokers, SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl, TOPIC_PREFIX: prefix, INGRESS_MAX_BODY_BYTES: '2048' }),
  );
  reader = await startTopicReader(infra.kafkaBrokers, [topic]);
});

afterAll(async () => {
  await reader?.stop();
  await ingress?.stop();
});

describe('ingress against a real broker and registry', () => {
  it('writes a signed callback as exactly one record keyed by session, decodable by any Confluent client', async () => {
    const sessionId = uniqueName('session');
    const body = JSON.stringify(intent(sessionId, { notModelledYet: { nested: true } }));
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const answer = await fetch(`${ingress.url}/webhooks/cognigy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cognigy-signature': signHmac(body, SECRET), 'x-correlation-id': 'corr-1', traceparent },
      body,
    });
    expect(answer.status).toBe(202);
    const json = (await answer.json()) as { status: string; eventId: string; correlationId: string };
    expect(json).toMatchObject({ status: 'accepted', correlationId: 'corr-1' });

    const records = await settle(sessionId);
    expect(records).toHaveLength(1);
    const [record] = records as [ReadRecord];
    expect(record.key).toBe(sessionId);
    expect(record.headers).toMatchObject({ 'event-id': json.eventId, 'correlation-id': 'corr-1', traceparent });
    expect(Date.parse(record.headers['received-at'] ?? '')).not.toBeNaN();

    const decoded = await new SchemaRegistry({ host: infra.schemaRegistryUrl }).decode(record.value as Buffer);
    expect(decoded).toMatchObject({
      eventId: json.eventId,
      correlationId: 'corr-1',
      sessionId,
      userId: 'user-1',
      eventType: 'intent_fulfillment',
      intent: 'book_flight',
      confidence: 0.94,
      text: 'a flight to Lisbon',
      entities: '{"destination":"Lisbon"}',
    });
    expect(Buffer.from(decoded.rawBody).toString()).toBe(body);
  });

  it('answers a repeated delivery 202 twice and writes one record', async () => {
    const sessionId = uniqueName('dup');
    const body = intent(sessionId);
    const first = await postSigned(ingress.url, body, { 'webhook-id': 'msg-dup-1' });
    const second = await postSigned(ingress.url, body, { 'webhook-id': 'msg-dup-1' });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.json).toMatchObject({ duplicate: true, eventId: 'msg-dup-1', correlationId: first.json.correlationId });
    const records = await settle(sessionId);
    expect(records.filter((r) => r.headers['event-id'] === 'msg-dup-1')).toHaveLength(1);
  });

  it('keeps 50 sequential callbacks of one session on one partition in send order', async () => {
    const sessionId = uniqueName('order');
    for (let i = 0; i < 50; i += 1) {
      const sent = await postSigned(ingress.url, intent(sessionId, { seq: i }));
      expect(sent.status).toBe(202);
    }
    const records = await settle(sessionId);
    expect(records).toHaveLength(50);
    expect(new Set(records.map((r) => r.partition)).size).toBe(1);
    const registry = new SchemaRegistry({ host: infra.schemaRegistryUrl });
    const ordered = records.sort((a, b) => Number(a.offset) - Number(b.offset));
    const sequence: number[] = [];
    for (const record of ordered) {
      const decoded = (await registry.decode(record.value as Buffer)) as { rawBody: Buffer };
      sequence.push((JSON.parse(decoded.rawBody.toString('utf8')) as { seq: number }).seq);
    }
    expect(sequence).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('refuses bad requests with the right status and writes nothing for them', async () => {
    const sessionId = uniqueName('bad');
    const url = `${ingress.url}/webhooks/cognigy`;
    const good = JSON.stringify(intent(sessionId));

    const wrongSignature = await postSigned(ingress.url, intent(sessionId), {}, 'not-the-secret');
    expect(wrongSignature.status).toBe(401);
    expect(JSON.stringify(wrongSignature.json)).not.toContain(signHmac(good, SECRET));

    const badJson = await postSigned(ingress.url, '{"sessionId": ');
    expect(badJson.status).toBe(400);
    expect(badJson.json).toMatchObject({ error: 'invalid_json' });

    const schema = await postSigned(ingress.url, intent(sessionId, { confidence: 'high' }));
    expect(schema.status).toBe(400);
    expect(schema.json).toMatchObject({ error: 'invalid_payload', issues: [{ path: 'confidence' }] });

    const big = JSON.stringify(intent(sessionId, { text: 'x'.repeat(4096) }));
    const oversize = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cognigy-signature': signHmac(big, SECRET) }, body: big });
    expect(oversize.status).toBe(413);

    const wrongType = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-cognigy-signature': signHmac(good, SECRET) }, body: good });
    expect(wrongType.status).toBe(415);

    expect(await settle(sessionId)).toHaveLength(0);
  });

  it('serves health, readiness and Prometheus metrics on the admin port, and only health on the public one', async () => {
    expect((await fetch(`${ingress.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${ingress.adminUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${ingress.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${ingress.url}/readyz`)).status).toBe(404);
    expect((await fetch(`${ingress.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${ingress.adminUrl}/webhooks/cognigy`, { method: 'POST' })).status).toBe(404);
    const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/ingress_requests_total\{[^}]*outcome="accepted"[^}]*\} \d+/);
    expect(metrics).toMatch(/ingress_requests_total\{[^}]*outcome="unauthorized"[^}]*\} \d+/);
  });
});

describe('/simulate', () => {
  const startWith = (env: Record<string, string>) =>
    startIngress(ingressConfig({ KAFKA_BROKERS: infra.kafkaBrokers, SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl, TOPIC_PREFIX: prefix, ...env }));
  const simulate = (url: string, body: unknown) =>
    fetch(`${url}/simulate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('signs with the first secret and takes the same path when enabled outside production, and does not exist otherwise', async () => {
    const enabled = await startWith({ SIMULATOR_ENABLED: 'true', NODE_ENV: 'development' });
    const production = await startWith({ SIMULATOR_ENABLED: 'true', NODE_ENV: 'production' });
    try {
      const sessionId = uniqueName('simulate');
      const accepted = await simulate(enabled.url, intent(sessionId));
      expect(accepted.status).toBe(202);
      const invalid = await simulate(enabled.url, intent(sessionId, { confidence: 2 }));
      expect(invalid.status).toBe(400);
      expect((await simulate(production.url, intent(sessionId))).status).toBe(404);
      expect((await simulate(ingress.url, intent(sessionId))).status).toBe(404);
      expect(await settle(sessionId)).toHaveLength(1);
    } finally {
      await enabled.stop();
      await production.stop();
    }
  });
});

describe('configuration', () => {
  const start = (env: Record<string, string>) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'services/ingress/main.ts'], {
      env: { ...process.env, INGRESS_AUTH: 'hmac', COGNIGY_WEBHOOK_SECRETS: 's', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, lines: result.stderr.split('\n').filter((l) => l.trim().length > 0) };
  };

  it('stops the start with one line naming the variable when a value is wrong', () => {
    const wrongPort = start({ INGRESS_PORT: 'eighty' });
    expect(wrongPort.status).toBe(2);
    expect(wrongPort.lines).toEqual(['configuration error: INGRESS_PORT: expected an integer from 0 to 65535']);

    const noSecret = start({ COGNIGY_WEBHOOK_SECRETS: '' });
    expect(noSecret.status).toBe(2);
    expect(noSecret.lines).toHaveLength(1);
    expect(noSecret.lines[0]).toContain('COGNIGY_WEBHOOK_SECRETS');
  });
});
