/**
 * `npm run bench -- fulfillment`: results/s of the fulfillment service with key-ordered
 * concurrency (FULFILLMENT_MAX_IN_FLIGHT=100) against the partition-sequential baseline (one record
 * at a time per partition), in the same run: 6 partitions, 1,000 sessions, downstream at a fixed
 * 50 ms. Ideal: 100 / 50 ms = 2,000 results/s; baseline ideal: 6 / 50 ms = 120 results/s.
 *
 * The callbacks are written before the service starts, the service and the simulator run in
 * their own processes, and the rate is taken from the results' broker timestamps (first to last),
 * so neither the load generation nor the group join is measured.
 */
import { randomUUID } from 'node:crypto';
import { createIdempotentProducer, createKafka, ensureTopics, type KafkaClient } from '../shared/kafka.js';
import { createRegistry, TopicSerde } from '../shared/serde.js';
import { topicNames } from '../shared/topics.js';
import { describeMachine } from './machine.js';
import { benchInfra, freePort, startProcess, stopProcess } from './support.js';

const PARTITIONS = 6;
const SESSIONS = 1_000;
const LATENCY_MS = 50;
const MAX_IN_FLIGHT = 100;
const CONCURRENT_RECORDS = 20_000;
const SEQUENTIAL_RECORDS = 1_800;
const RESULT_TIMEOUT_MS = 90_000;

interface Measurement {
  records: number;
  seconds: number;
  perSecond: number;
}

async function preload(kafka: KafkaClient, registryUrl: string, prefix: string, count: number): Promise<void> {
  const topics = topicNames(prefix);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [topics.callbacks, topics.results].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })));
  await admin.disconnect();
  const serde = new TopicSerde(createRegistry(registryUrl), topics.callbacks, 'CognigyCallback');
  await serde.register();
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const now = new Date().toISOString();
  for (let start = 0; start < count; start += 1_000) {
    const messages = await Promise.all(
      Array.from({ length: Math.min(1_000, count - start) }, async (_, i) => {
        const n = start + i;
        const sessionId = `bench-session-${n % SESSIONS}`;
        const eventId = randomUUID();
        const value = await serde.encode({
          eventId,
          correlationId: `bench-${n}`,
          sessionId,
          userId: 'bench-user',
          eventType: 'intent_fulfillment',
          eventTypeRaw: null,
          intent: 'book_flight',
          confidence: 0.93,
          text: 'I want to fly to Lisbon next Friday',
          flowName: 'travel',
          actionName: null,
          entities: JSON.stringify({ destination: 'Lisbon' }),
          variables: null,
          occurredAt: now,
          receivedAt: now,
          rawBody: Buffer.from(JSON.stringify({ sessionId, n })),
        });
        return { key: sessionId, value, headers: { 'event-id': eventId, 'correlation-id': `bench-${n}`, 'received-at': now } };
      }),
    );
    await producer.send({ topic: topics.callbacks, acks: -1, messages });
  }
  await producer.disconnect();
}

/** Counts results until all are there; the rate comes from their broker timestamps. */
async function awaitResults(kafka: KafkaClient, topic: string, count: number): Promise<Measurement> {
  const consumer = kafka.consumer({ groupId: `bench-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  let seen = 0;
  let first = Infinity;
  let last = 0;
  let done!: () => void;
  const complete = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const ts = Number(message.timestamp);
        first = Math.min(first, ts);
        last = Math.max(last, ts);
      }
      seen += batch.messages.length;
      if (seen >= count) done();
    },
  });
  const timer = setTimeout(done, RESULT_TIMEOUT_MS);
  await complete;
  clearTimeout(timer);
  await consumer.disconnect();
  if (seen < count) throw new Error(`only ${seen} of ${count} results within ${RESULT_TIMEOUT_MS} ms`);
  const seconds = Math.max(0.001, (last - first) / 1_000);
  return { records: seen, seconds, perSecond: (seen - 1) / seconds };
}

async function measure(
  infra: { kafkaBrokers: string; schemaRegistryUrl: string },
  downstreamUrl: string,
  name: string,
  records: number,
  env: Record<string, string>,
): Promise<Measurement> {
  const prefix = `bench-${name}-${Date.now().toString(36)}.`;
  const kafka = createKafka({ brokers: infra.kafkaBrokers.split(','), clientId: 'bench-fulfillment' });
  await preload(kafka, infra.schemaRegistryUrl, prefix, records);
  const port = await freePort();
  const service = await startProcess(
    'services/fulfillment/main.ts',
    {
      KAFKA_BROKERS: infra.kafkaBrokers,
      SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: String(PARTITIONS),
      FULFILLMENT_GROUP_ID: `bench-${name}-${randomUUID()}`,
      FULFILLMENT_PORT: String(port),
      FULFILLMENT_HOST: '127.0.0.1',
      DOWNSTREAM_URL: `${downstreamUrl}/v1/fulfill`,
      LOG_LEVEL: 'warn',
      ...env,
    },
    port,
  );
  try {
    return await awaitResults(kafka, topicNames(prefix).results, records);
  } finally {
    await stopProcess(service);
  }
}

export async function run(): Promise<void> {
  const infra = await benchInfra();
  const simulatorPort = await freePort();
  const simulator = await startProcess('services/cognigy-simulator/main.ts', { SIMULATOR_PORT: String(simulatorPort), SIMULATOR_HOST: '127.0.0.1' }, simulatorPort);
  const downstreamUrl = `http://127.0.0.1:${simulatorPort}`;
  try {
    const faults = await fetch(`${downstreamUrl}/admin/downstream/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: LATENCY_MS }),
    });
    if (!faults.ok) throw new Error(`could not set the downstream latency: ${faults.status}`);

    const baseline = await measure(infra, downstreamUrl, 'sequential', SEQUENTIAL_RECORDS, {
      FULFILLMENT_ORDERING: 'partition',
      FULFILLMENT_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
    });
    const keyed = await measure(infra, downstreamUrl, 'key-ordered', CONCURRENT_RECORDS, {
      FULFILLMENT_ORDERING: 'key',
      FULFILLMENT_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
    });

    const ideal = MAX_IN_FLIGHT / (LATENCY_MS / 1_000);
    const row = (label: string, m: Measurement, best: number) =>
      `| ${label} | ${m.records} | ${m.seconds.toFixed(1)} | ${m.perSecond.toFixed(0)} | ${((100 * m.perSecond) / best).toFixed(0)} % |`;
    console.log(`\nfulfillment: ${PARTITIONS} partitions, ${SESSIONS} sessions, downstream fixed ${LATENCY_MS} ms`);
    console.log(`machine: ${describeMachine()}\n`);
    console.log('| mode | results | seconds | results/s | of ideal |');
    console.log('|---|---|---|---|---|');
    console.log(row('partition-sequential (baseline, 1 in flight per partition)', baseline, PARTITIONS / (LATENCY_MS / 1_000)));
    console.log(row(`key-ordered, FULFILLMENT_MAX_IN_FLIGHT=${MAX_IN_FLIGHT}`, keyed, ideal));
    console.log(`\nkey-ordered / baseline: ${(keyed.perSecond / baseline.perSecond).toFixed(1)} x`);
    console.log(`key-ordered: ${keyed.perSecond.toFixed(0)} results/s, target >= ${(0.7 * ideal).toFixed(0)} (70 % of ${ideal})`);
  } finally {
    await stopProcess(simulator);
    await infra.stop();
  }
}
