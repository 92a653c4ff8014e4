import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdempotentProducer, createKafka, type Admin, type KafkaClient } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';
import { TopicFollower } from '../../shared/stage/topic-follower.js';
import { startKafkaBroker, type KafkaBroker } from '../../tools/infra/launcher.js';
import { uniqueName, waitFor } from '../support/wait.js';

/**
 * The reader the dedup store restores from and the console builds its views on: it starts where it
 * is told and then hands every record over once, also across a broker restart that makes its
 * consumer join its group again (a group that never commits, so nothing on the broker says where
 * it was).
 */
describe('a topic follower', () => {
  let broker: KafkaBroker;
  let kafka: KafkaClient;
  let admin: Admin;
  const logger = createLogger('topic-follower-test', 'silent');

  beforeAll(async () => {
    // A broker of its own: it is restarted below.
    broker = await startKafkaBroker();
    kafka = createKafka({ brokers: [broker.brokers], clientId: 'topic-follower-test', retries: 10, logger });
    admin = kafka.admin();
    await admin.connect();
  }, 180_000);

  afterAll(async () => {
    await admin?.disconnect();
    await broker?.destroy();
  });

  async function topicWith(partitions: number): Promise<string> {
    const topic = uniqueName('follower');
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    return topic;
  }

  async function write(topic: string, from: number, count: number): Promise<void> {
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ key: `k-${(from + i) % 7}`, value: `v-${from + i}` })) });
    await producer.disconnect();
  }

  function follow(topic: string, received: ConsumedRecord[], startAt?: () => Promise<ReadonlyMap<number, number>>): TopicFollower {
    return new TopicFollower({
      kafka,
      admin,
      logger,
      topic,
      groupPrefix: 'topic-follower-test',
      membership: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 },
      onFatal: (error) => {
        throw error;
      },
      onRecords: (records) => void received.push(...records),
      ...(startAt ? { startAt } : {}),
    });
  }

  it('starts each partition where startAt says and reads on from there', async () => {
    const topic = await topicWith(3);
    await write(topic, 0, 30);
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    const received: ConsumedRecord[] = [];
    const follower = follow(topic, received, async () => ends);
    try {
      await follower.start();
      await follower.caughtUp(30_000);
      expect(received).toEqual([]);
      await write(topic, 30, 12);
      await follower.caughtUp(30_000);
      expect(received.map((r) => r.value?.toString()).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `v-${30 + i}`).sort());
    } finally {
      await follower.stop();
    }
  }, 60_000);

  it('started at given offsets, hands each record over once across a broker restart, going on where it stopped', async () => {
    const topic = await topicWith(3);
    await write(topic, 0, 20);
    const received: ConsumedRecord[] = [];
    const follower = follow(topic, received, async () => new Map([0, 1, 2].map((p) => [p, 0])));
    try {
      await follower.start();
      await follower.caughtUp(30_000);
      expect(received).toHaveLength(20);

      await broker.kill();
      // Down for longer than the session timeout: the member is gone and must join again.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      await broker.start();
      await write(topic, 20, 20);
      await waitFor(() => new Set(received.map((r) => r.value?.toString())).size === 40, { timeoutMs: 90_000, intervalMs: 250, what: 'the records written after the restart' });
      await follower.caughtUp(30_000);
      const positions = received.map((r) => `${r.partition}:${r.offset}`);
      expect(positions.length - new Set(positions).size, 'records handed over twice').toBe(0);
    } finally {
      await follower.stop();
    }
  }, 180_000);
});
