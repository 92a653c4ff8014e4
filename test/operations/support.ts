import { FulfillmentEnv, type FulfillmentConfig } from '../../services/fulfillment/config.js';
import { loadConfig } from '../../shared/config.js';
import { createKafka, type Admin, type KafkaClient } from '../../shared/kafka.js';
import { captureOut } from '../../shared/operations/output.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName } from '../support/wait.js';

export interface OpsFixture {
  brokers: string;
  registryUrl: string;
  prefix: string;
  kafka: KafkaClient;
  admin: Admin;
  /** Env for the CLI's config, on this fixture's topics. */
  env: Record<string, string>;
  out: ReturnType<typeof captureOut>;
  close(): Promise<void>;
}

/** Kafka clients on the shared broker, and topic names no other test file uses. */
export async function opsFixture(name: string, env: Record<string, string> = {}): Promise<OpsFixture> {
  const { kafkaBrokers, schemaRegistryUrl } = testInfra();
  const prefix = `${uniqueName(name)}.`;
  const kafka = createKafka({ brokers: kafkaBrokers.split(','), clientId: `test-${name}` });
  const admin = kafka.admin();
  await admin.connect();
  return {
    brokers: kafkaBrokers,
    registryUrl: schemaRegistryUrl,
    prefix,
    kafka,
    admin,
    env: {
      KAFKA_BROKERS: kafkaBrokers,
      SCHEMA_REGISTRY_URL: schemaRegistryUrl,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: '3',
      RETRY_MAX_ATTEMPTS: '2',
      DLQ_REDRIVE_GROUP_ID: `${prefix}dlq-redrive`,
      LOG_LEVEL: 'warn',
      ...env,
    },
    out: captureOut(),
    close: async () => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

export { lowConfidenceCallback } from '../support/callback-fixtures.js';

export function fulfillmentConfig(fixture: OpsFixture, groupId: string): FulfillmentConfig {
  return loadConfig(FulfillmentEnv, {
    ...fixture.env,
    FULFILLMENT_GROUP_ID: groupId,
    FULFILLMENT_PORT: '0',
    FULFILLMENT_HOST: '127.0.0.1',
    // Nothing in these tests reaches the downstream: every callback is below the threshold.
    DOWNSTREAM_URL: 'http://127.0.0.1:9/v1/fulfill',
    RETRY_BASE_DELAY_MS: '100',
    RETRY_MAX_DELAY_MS: '200',
    FULFILLMENT_COMMIT_INTERVAL_MS: '50',
    FULFILLMENT_SESSION_TIMEOUT_MS: '10000',
    SHUTDOWN_TIMEOUT_MS: '10000',
  });
}

/** Committed offsets of a group on a topic, -1 where none. */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((entry?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

export async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, number>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
}

/** True once the group committed everything written to the topic so far. */
export async function caughtUp(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const [committed, high] = await Promise.all([committedOffsets(admin, groupId, topic), highWatermarks(admin, topic)]);
  return [...high].every(([p, h]) => h === 0 || committed.get(p) === h);
}
