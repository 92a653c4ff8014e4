import { randomBytes } from 'node:crypto';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { startKafkaBroker } from '../../tools/infra/launcher.js';
import { freePort, isPortOpen } from '../../tools/infra/process.js';
import { kafkaAnswers } from '../../tools/infra/readiness.js';
import { testInfra } from '../support/infra-env.js';

const infra = testInfra();
const clients: Array<{ disconnect(): Promise<void> }> = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
});

const unique = (name: string): string => `infra-test.${name}.${randomBytes(4).toString('hex')}`;

function kafka(brokers: string): Kafka {
  return new Kafka({ clientId: 'infra-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

async function createTopic(client: Kafka, topic: string): Promise<void> {
  const admin = client.admin();
  await admin.connect();
  try {
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })).toBe(true);
  } finally {
    await admin.disconnect();
  }
}

/** Reads `count` messages of `topic` from the beginning with a fresh consumer group. */
async function consume(client: Kafka, topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer = client.consumer({ groupId: unique('group') });
  clients.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const messages: KafkaMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${messages.length}/${count} messages from ${topic}`)), 45_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        messages.push(message);
        if (messages.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return messages;
}

const values = (messages: KafkaMessage[]): string[] => messages.map((m) => m.value?.toString() ?? '').sort();

describe('shared infrastructure (global setup)', () => {
  it('hands out a loopback broker and the ccompat base URL of a registry', () => {
    expect(infra.kafkaBrokers).toMatch(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/);
    expect(infra.schemaRegistryUrl).toMatch(/^http:\/\/[\w.-]+:\d+/);
    // Workers inherit the environment set by the global setup, for code that configures itself from env.
    expect(process.env.KAFKA_BROKERS).toBe(infra.kafkaBrokers);
    expect(process.env.SCHEMA_REGISTRY_URL).toBe(infra.schemaRegistryUrl);
  });

  it('creates a topic; an idempotent producer writes and a consumer group reads it back', async () => {
    const client = kafka(infra.kafkaBrokers);
    const topic = unique('plain');
    await createTopic(client, topic);
    const producer = client.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: ['a', 'b', 'c'].map((v) => ({ key: v, value: v })) });
    await producer.disconnect();

    expect(values(await consume(client, topic, 3))).toEqual(['a', 'b', 'c']);
  });

  it('supports transactions: committed records are visible, aborted ones are not', async () => {
    const client = kafka(infra.kafkaBrokers);
    const topic = unique('tx');
    await createTopic(client, topic);
    const producer = client.producer({
      transactionalId: unique('txid'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    clients.push(producer);
    await producer.connect();

    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: 'aborted' }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: 'committed-1' }, { key: 'k', value: 'committed-2' }] });
    await committed.commit();
    await producer.disconnect();

    // kafkajs consumers read with isolation level read_committed by default.
    expect(values(await consume(client, topic, 2))).toEqual(['committed-1', 'committed-2']);
  });

  it('registers an Avro schema under <topic>-value and encodes/decodes through the registry', async () => {
    const topic = unique('avro');
    const subject = `${topic}-value`;
    const schema = {
      type: 'record',
      name: 'Probe',
      namespace: 'infra.test',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'n', type: 'int' },
      ],
    };
    const registry = new SchemaRegistry({ host: infra.schemaRegistryUrl });
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
    // Registering identical content again is idempotent, as with Confluent's registry.
    expect((await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject })).id).toBe(id);

    const client = kafka(infra.kafkaBrokers);
    await createTopic(client, topic);
    const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'p', value: await registry.encode(id, { id: 'p', n: 42 }) }] });
    await producer.disconnect();

    const [message] = await consume(client, topic, 1);
    // A registry client with an empty cache must resolve the id embedded in the record.
    const decoded: unknown = await new SchemaRegistry({ host: infra.schemaRegistryUrl }).decode(message?.value as Buffer);
    expect(decoded).toEqual({ id: 'p', n: 42 });
  });

  it('rejects an incompatible schema change like Confluent (BACKWARD)', async () => {
    const subject = `${unique('compat')}-value`;
    const registry = new SchemaRegistry({ host: infra.schemaRegistryUrl });
    const v1 = { type: 'record', name: 'C', fields: [{ name: 'a', type: 'string' }] };
    const v2 = { type: 'record', name: 'C', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }] };
    const v2WithDefault = { type: 'record', name: 'C', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int', default: 0 }] };
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    // A new field without a default cannot be read from v1 records: 409, as Confluent's registry answers.
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject })).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/incompatible/i),
    });
    // The same field with a default is a BACKWARD-compatible change and is registered as version 2.
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2WithDefault) }, { subject });
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
  });
});

describe('readiness', () => {
  it('answers for a broker serving metadata and not for a port nobody listens on', async () => {
    expect(await kafkaAnswers(infra.kafkaBrokers)).toBe(true);
    expect(await kafkaAnswers(`127.0.0.1:${await freePort()}`)).toBe(false);
  });
});

describe('startKafkaBroker', () => {
  it('stops and starts again on the same address with its data intact', async () => {
    const broker = await startKafkaBroker();
    try {
      const client = kafka(broker.brokers);
      const topic = unique('restart');
      await createTopic(client, topic);
      const producer = client.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ value: 'before-stop' }] });
      await producer.disconnect();

      const address = broker.brokers;
      await broker.stop();
      const [host, port] = address.split(':');
      expect(await isPortOpen(Number(port), host)).toBe(false);

      await broker.start();
      expect(broker.brokers).toBe(address);
      expect(values(await consume(kafka(broker.brokers), topic, 1))).toEqual(['before-stop']);
    } finally {
      await broker.destroy();
    }
  });
});
