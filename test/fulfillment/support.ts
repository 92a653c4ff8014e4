import { randomUUID } from 'node:crypto';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { FulfillmentEnv, type FulfillmentConfig } from '../../services/fulfillment/config.js';
import { startFulfillment, type FulfillmentHandle } from '../../services/fulfillment/service.js';
import { clientSettings } from '../../shared/client-settings.js';
import { loadConfig } from '../../shared/config.js';
import type { CognigyCallback, FulfillmentResult } from '../../shared/contracts.js';
import { Header } from '../../shared/headers.js';
import { createIdempotentProducer, createKafka, ensureTopics, type Producer, type RecordMetadata } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { topicNames, type TopicNames } from '../../shared/topics.js';
import { testInfra } from '../support/infra-env.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

let sequence = 0;

/** A valid callback; every call gets a new event id. */
export function makeCallback(overrides: Partial<CognigyCallback> = {}): CognigyCallback {
  sequence += 1;
  const sessionId = overrides.sessionId ?? `session-${sequence}`;
  return {
    eventId: `evt-${randomUUID()}`,
    correlationId: `corr-${sequence}`,
    sessionId,
    userId: 'user-1',
    eventType: 'intent_fulfillment',
    eventTypeRaw: null,
    intent: 'order_status',
    confidence: 0.94,
    text: 'where is my order',
    flowName: 'support',
    actionName: null,
    entities: JSON.stringify({ orderId: '42' }),
    variables: null,
    occurredAt: new Date().toISOString(),
    receivedAt: new Date().toISOString(),
    rawBody: Buffer.from(JSON.stringify({ sessionId, seq: sequence })),
    ...overrides,
  };
}

export interface DecodedResult {
  record: ReadRecord;
  result: FulfillmentResult;
}

export interface Harness {
  config: FulfillmentConfig;
  topics: TopicNames;
  simulator: RunningSimulator;
  service: FulfillmentHandle | undefined;
  /** Records on the results topic, the DLQ and every retry tier, in arrival order. */
  outputs: ReadRecord[];
  /** Produces callbacks to the callbacks topic the way the ingress does (key, headers). */
  send(callbacks: CognigyCallback[], traceparent?: string): Promise<RecordMetadata[]>;
  /** Produces any bytes with any headers, to any topic. */
  sendRaw(topic: string, record: { key: string | null; value: Buffer; headers?: Record<string, string> }): Promise<void>;
  encode(callback: CognigyCallback): Promise<Buffer>;
  /** Decoded results, all or one event id's. */
  results(eventId?: string): Promise<DecodedResult[]>;
  waitForResults(eventIds: string[], timeoutMs?: number): Promise<Map<string, DecodedResult[]>>;
  on(topic: string): ReadRecord[];
  stop(): Promise<void>;
}

/** The service configuration for one test file: its own topics and group on the shared broker. */
export function testConfig(env: Record<string, string>, downstreamUrl: string): FulfillmentConfig {
  const infra = testInfra();
  return loadConfig(FulfillmentEnv, {
    KAFKA_BROKERS: infra.kafkaBrokers,
    SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
    TOPIC_PREFIX: `${uniqueName('ful')}.`,
    TOPIC_PARTITIONS: '3',
    FULFILLMENT_GROUP_ID: uniqueName('fulfillment'),
    FULFILLMENT_PORT: '0',
    FULFILLMENT_HOST: '127.0.0.1',
    FULFILLMENT_SESSION_TIMEOUT_MS: '10000',
    DOWNSTREAM_URL: `${downstreamUrl}/v1/fulfill`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    ...env,
  });
}

/**
 * An in-process simulator and (unless `startService` is false) an in-process fulfillment service,
 * a producer for input and a reader of every output topic.
 */
export async function startHarness(env: Record<string, string> = {}, opts: { startService?: boolean } = {}): Promise<Harness> {
  const simulator = await startSimulator(0);
  const config = testConfig(env, simulator.url);
  const topics = topicNames(config.TOPIC_PREFIX);
  const clients = clientSettings(config, 'fulfillment-test');
  const kafka = createKafka(clients.kafka);
  const outputTopics = [topics.results, topics.dlq, ...Array.from({ length: config.RETRY_MAX_ATTEMPTS - 1 }, (_, i) => topics.retry(i + 1))];
  // The service creates these too; created here first so the reader never auto-creates them.
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)).filter((t) => t.role !== 'ackBatches'));
  await admin.disconnect();
  const service =
    opts.startService === false ? undefined : await startFulfillment(config, { logger: createLogger('fulfillment', config.LOG_LEVEL) });
  if (service) await waitFor(async () => (await fetch(`${service.url}/readyz`)).ok, { timeoutMs: 60_000, what: 'the consumer to join its group' });

  const registry = createRegistry(clients.registry.url, clients.registry.auth);
  const callbackSerde = new TopicSerde(registry, topics.callbacks, 'CognigyCallback');
  const resultSerde = new TopicSerde(registry, topics.results, 'FulfillmentResult');
  // Once, before any parallel encode: concurrent first registrations of a subject race in the registry.
  await callbackSerde.register();
  const producer: Producer = createIdempotentProducer(kafka);
  await producer.connect();
  const reader = await startTopicReader(config.KAFKA_BROKERS.join(','), outputTopics, { readCommitted: true });
  const decoded = new Map<ReadRecord, FulfillmentResult>();

  const results = async (eventId?: string): Promise<DecodedResult[]> => {
    const out: DecodedResult[] = [];
    for (const record of reader.records) {
      if (record.topic !== topics.results) continue;
      if (eventId !== undefined && record.headers[Header.eventId] !== eventId) continue;
      let result = decoded.get(record);
      if (!result) {
        result = await resultSerde.decode(record.value as Buffer);
        decoded.set(record, result);
      }
      out.push({ record, result });
    }
    return out;
  };

  return {
    config,
    topics,
    simulator,
    service,
    outputs: reader.records,
    encode: (callback) => callbackSerde.encode(callback),
    async send(callbacks, traceparent) {
      const messages = await Promise.all(
        callbacks.map(async (callback) => {
          const headers: Record<string, string> = {
            [Header.eventId]: callback.eventId,
            [Header.correlationId]: callback.correlationId,
            [Header.receivedAt]: callback.receivedAt,
          };
          if (traceparent) headers[Header.traceparent] = traceparent;
          return { key: callback.sessionId, value: await callbackSerde.encode(callback), headers };
        }),
      );
      return producer.send({ topic: topics.callbacks, acks: -1, messages });
    },
    async sendRaw(topic, record) {
      await producer.send({ topic, acks: -1, messages: [{ key: record.key, value: record.value, headers: record.headers ?? {} }] });
    },
    results,
    async waitForResults(eventIds, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const byEvent = new Map<string, DecodedResult[]>();
          for (const r of await results()) byEvent.set(r.result.eventId, [...(byEvent.get(r.result.eventId) ?? []), r]);
          const missing = eventIds.filter((id) => !byEvent.has(id));
          return missing.length === 0 ? byEvent : undefined;
        },
        { timeoutMs, intervalMs: 200, what: `results for ${eventIds.length} callbacks` },
      );
    },
    on: (topic) => reader.records.filter((r) => r.topic === topic),
    async stop() {
      await service?.stop();
      await reader.stop();
      await producer.disconnect();
      await simulator.close();
    },
  };
}
