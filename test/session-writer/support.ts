import { Writable } from 'node:stream';
import { pino } from 'pino';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import type { RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { SessionWriterEnv } from '../../services/session-writer/config.js';
import { startSessionWriter, type SessionWriterHandle } from '../../services/session-writer/service.js';
import { loadConfig } from '../../shared/config.js';
import type { FulfillmentResult } from '../../shared/contracts.js';
import { Header } from '../../shared/headers.js';
import { createIdempotentProducer, createKafka, createTransactionalProducer, ensureTopics, type Admin, type Producer } from '../../shared/kafka.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicNames, type TopicNames } from '../../shared/topics.js';
import { result } from '../ack-aggregator/fixtures.js';
import { testInfra } from '../support/infra-env.js';
import { committedToEnd } from '../support/offsets.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

export const PARTITIONS = 3;

/** A result as fulfillment writes it, for callback `offset` of `session` on the callbacks topic. */
export interface Spec {
  session: string;
  /** The callback's offset on cognigy.callbacks.v1 (its place in the session's order). */
  offset: number;
  overrides?: Partial<FulfillmentResult>;
}

/** One isolated world on the shared broker: its own topic prefix and consumer group. */
export class Harness {
  readonly prefix = uniqueName('sw') + '.';
  readonly groupId = uniqueName('sw-group');
  readonly topics: TopicNames = topicNames(this.prefix);
  readonly infra = testInfra();
  readonly logs: Record<string, unknown>[] = [];
  readonly fatal: unknown[] = [];
  private readonly kafka = createKafka({ brokers: this.infra.kafkaBrokers.split(','), clientId: 'session-writer-test' });
  readonly resultSerde = new TopicSerde(createRegistry(this.infra.schemaRegistryUrl), this.topics.results, 'FulfillmentResult');
  admin!: Admin;
  private producer!: Producer;
  private readonly writers: SessionWriterHandle[] = [];
  private readonly readers: { stop(): Promise<void> }[] = [];

  constructor(readonly sim: RunningSimulator) {}

  async start(): Promise<this> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await ensureTopics(
      this.admin,
      [this.topics.results, this.topics.dlq].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    );
    this.producer = createIdempotentProducer(this.kafka);
    await this.producer.connect();
    await this.resultSerde.register();
    return this;
  }

  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      KAFKA_BROKERS: this.infra.kafkaBrokers,
      SCHEMA_REGISTRY_URL: this.infra.schemaRegistryUrl,
      TOPIC_PREFIX: this.prefix,
      TOPIC_PARTITIONS: String(PARTITIONS),
      SESSION_WRITER_ENABLED: 'true',
      SESSION_WRITER_GROUP_ID: this.groupId,
      SESSION_WRITER_PORT: '0',
      SESSION_WRITER_HOST: '127.0.0.1',
      SESSION_WRITER_SESSION_TIMEOUT_MS: '10000',
      SESSION_WRITER_MAX_PER_5MIN: '300000',
      SESSION_VARIABLES_MAP: 'processed_intent=intent,processed_response=response,webhook_processed=true,last_event=eventId',
      COGNIGY_BASE_URL: this.sim.url,
      COGNIGY_API_KEY: SIMULATOR_CREDENTIALS.apiKey,
      COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
      COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
      COGNIGY_RETRY_BASE_DELAY_MS: '100',
      COGNIGY_RETRY_MAX_DELAY_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
      ...overrides,
    };
  }

  /** Starts a writer in-process; its log lines land in `logs`, a fatal stop in `fatal`. */
  async writer(overrides: Record<string, string> = {}): Promise<SessionWriterHandle> {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') this.logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const handle = await startSessionWriter(loadConfig(SessionWriterEnv, this.env(overrides)), {
      logger: pino({ level: 'info', base: { service: 'session-writer' } }, sink),
      onFatal: (error) => {
        this.fatal.push(error);
        void handle.stop();
      },
    });
    this.writers.push(handle);
    return handle;
  }

  eventId(spec: Spec): string {
    return `${this.prefix}${spec.session}@${spec.offset}`;
  }

  session(name: string): string {
    return `${this.prefix}${name}`;
  }

  private async message(spec: Spec) {
    const r = result({
      eventId: this.eventId(spec),
      correlationId: `corr-${spec.offset}`,
      sessionId: this.session(spec.session),
      response: JSON.stringify({ text: `answer to ${spec.offset}` }),
      ...spec.overrides,
    });
    return {
      key: r.sessionId,
      value: await this.resultSerde.encode(r),
      headers: {
        [Header.eventId]: r.eventId,
        [Header.correlationId]: r.correlationId,
        [Header.receivedAt]: new Date().toISOString(),
        [Header.callbackPartition]: '0',
        [Header.callbackOffset]: String(spec.offset),
      },
    };
  }

  /** Writes results in the given order, as fulfillment would (late ones included). */
  async produce(specs: Spec[]): Promise<void> {
    const messages = await Promise.all(specs.map((s) => this.message(s)));
    await this.producer.send({ topic: this.topics.results, acks: -1, messages });
  }

  /** Writes results in a transaction that is aborted: no reader in read_committed mode may see them. */
  async produceAborted(specs: Spec[]): Promise<void> {
    const producer = createTransactionalProducer(this.kafka, uniqueName('sw-aborted'));
    await producer.connect();
    const transaction = await producer.transaction();
    await transaction.send({ topic: this.topics.results, messages: await Promise.all(specs.map((s) => this.message(s))) });
    await transaction.abort();
    await producer.disconnect();
  }

  /** The session's variables as the simulator holds them. */
  variables(name: string): Record<string, unknown> | undefined {
    return this.sim.cognigy.sessionVariables.get(this.session(name));
  }

  /** Session-variable calls for this world's sessions, in arrival order. */
  calls() {
    return this.sim.cognigy.sessionCalls.filter((c) => c.sessionId.startsWith(this.prefix));
  }

  fullyCommitted(): Promise<boolean> {
    return committedToEnd(this.admin, this.groupId, [this.topics.results]);
  }

  async committedTotal(): Promise<number> {
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topics.results] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  }

  async waitCommitted(timeoutMs = 60_000): Promise<void> {
    await waitFor(() => this.fullyCommitted(), { timeoutMs, intervalMs: 200, what: 'every offset committed' });
  }

  async reader(topic: string): Promise<ReadRecord[]> {
    const reader = await startTopicReader(this.infra.kafkaBrokers, [topic]);
    this.readers.push(reader);
    return reader.records;
  }

  async close(): Promise<void> {
    for (const w of this.writers) await w.stop().catch(() => undefined);
    for (const r of this.readers) await r.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}
