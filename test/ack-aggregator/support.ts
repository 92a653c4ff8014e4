import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AckAggregatorEnv, type AckAggregatorConfig } from '../../services/ack-aggregator/config.js';
import { startAckAggregator, type AckAggregatorHandle } from '../../services/ack-aggregator/service.js';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import type { RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { loadConfig } from '../../shared/config.js';
import type { AckBatch, FulfillmentResult } from '../../shared/contracts.js';
import { Header } from '../../shared/headers.js';
import { createIdempotentProducer, createKafka, ensureTopics, type Admin, type Producer, type RecordMetadata } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicNames, type TopicNames } from '../../shared/topics.js';
import { testInfra } from '../support/infra-env.js';
import { committedToEnd } from '../support/offsets.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { result } from './fixtures.js';

export const PARTITIONS = 3;

/** One isolated world on the shared broker: its own topic prefix and consumer group. */
export class Harness {
  readonly prefix = uniqueName('ack') + '.';
  readonly groupId = uniqueName('ack-group');
  readonly topics: TopicNames = topicNames(this.prefix);
  readonly infra = testInfra();
  readonly logs: Record<string, unknown>[] = [];
  private readonly kafka = createKafka({ brokers: this.infra.kafkaBrokers.split(','), clientId: 'ack-test' });
  private readonly registry = createRegistry(this.infra.schemaRegistryUrl);
  readonly resultSerde = new TopicSerde(this.registry, this.topics.results, 'FulfillmentResult');
  readonly batchSerde = new TopicSerde(this.registry, this.topics.ackBatches, 'AckBatch');
  admin!: Admin;
  private producer!: Producer;
  private readonly readers: { stop(): Promise<void> }[] = [];
  private readonly aggregators: AckAggregatorHandle[] = [];
  private sequence = 0;

  constructor(readonly sim: RunningSimulator) {}

  async start(): Promise<this> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await ensureTopics(
      this.admin,
      [this.topics.results, this.topics.dlq, this.topics.ackBatches].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    );
    this.producer = createIdempotentProducer(this.kafka);
    await this.producer.connect();
    await this.resultSerde.register();
    return this;
  }

  /** The aggregator's env for this world; tests override what they are about. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      KAFKA_BROKERS: this.infra.kafkaBrokers,
      SCHEMA_REGISTRY_URL: this.infra.schemaRegistryUrl,
      TOPIC_PREFIX: this.prefix,
      TOPIC_PARTITIONS: String(PARTITIONS),
      ACK_GROUP_ID: this.groupId,
      ACK_WINDOW_MS: '1000',
      ACK_AGGREGATOR_PORT: '0',
      ACK_AGGREGATOR_HOST: '127.0.0.1',
      ACK_SESSION_TIMEOUT_MS: '10000',
      COGNIGY_BASE_URL: this.sim.url,
      COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
      COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
      COGNIGY_RETRY_BASE_DELAY_MS: '100',
      COGNIGY_RETRY_MAX_DELAY_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '15000',
      LOG_LEVEL: 'info',
      ...overrides,
    };
  }

  config(overrides: Record<string, string> = {}): AckAggregatorConfig {
    return loadConfig(AckAggregatorEnv, this.env(overrides));
  }

  /** Starts an aggregator in-process whose log lines are collected in `logs`. */
  async aggregator(overrides: Record<string, string> = {}): Promise<AckAggregatorHandle> {
    const handle = await startAckAggregator(this.config(overrides), { logger: this.logger() });
    this.aggregators.push(handle);
    return handle;
  }

  logger(): Logger {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') this.logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return pino({ level: 'info', base: { service: 'ack-aggregator' } }, sink);
  }

  /** `count` valid results, each with a fresh eventId; `overrides(i)` shapes single ones. */
  results(count: number, overrides: (i: number) => Partial<FulfillmentResult> = () => ({})): FulfillmentResult[] {
    return Array.from({ length: count }, (_, i) => {
      this.sequence += 1;
      return result({ eventId: `${this.prefix}evt-${this.sequence}`, correlationId: `corr-${this.sequence}`, sessionId: `session-${this.sequence}`, ...overrides(i) });
    });
  }

  /** Writes results as fulfillment does: Avro, keyed by sessionId, with the pipeline headers. */
  async produce(results: FulfillmentResult[], extraHeaders: Record<string, string> = {}): Promise<RecordMetadata[]> {
    const messages = await Promise.all(
      results.map(async (r) => ({
        key: r.sessionId,
        value: await this.resultSerde.encode(r),
        headers: { [Header.eventId]: r.eventId, [Header.correlationId]: r.correlationId, [Header.receivedAt]: new Date().toISOString(), ...extraHeaders },
      })),
    );
    return this.producer.send({ topic: this.topics.results, acks: -1, messages });
  }

  /** Committed offset per partition of the results topic for this group (-1: nothing committed). */
  async committed(): Promise<Map<number, number>> {
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topics.results] });
    return new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  }

  /** True when every partition is committed up to its end. */
  async fullyCommitted(): Promise<boolean> {
    return committedToEnd(this.admin, this.groupId, [this.topics.results]);
  }

  /** The group's committed offsets, read every `intervalMs` until stopped (see watchCommits). */
  watchCommits(intervalMs = 200): CommitWatch {
    return watchCommits(() => this.committed(), () => this.sim.cognigy.acknowledged.keys(), intervalMs);
  }

  async waitAcknowledged(eventIds: string[], timeoutMs = 60_000): Promise<void> {
    await waitFor(() => eventIds.every((id) => this.sim.cognigy.acknowledged.has(id)), {
      timeoutMs,
      intervalMs: 100,
      what: `${eventIds.length} acknowledgments`,
    });
  }

  async waitCommitted(timeoutMs = 60_000): Promise<void> {
    await waitFor(() => this.fullyCommitted(), { timeoutMs, intervalMs: 200, what: 'every offset committed' });
  }

  async reader(topics: string[]): Promise<ReadRecord[]> {
    const reader = await startTopicReader(this.infra.kafkaBrokers, topics);
    this.readers.push(reader);
    return reader.records;
  }

  async batchRecords(records: ReadRecord[]): Promise<(AckBatch & { timestamp: number })[]> {
    return Promise.all(
      records.map(async (r) => ({ ...(await this.batchSerde.decode(r.value as Buffer)), timestamp: Number(r.message.timestamp) })),
    );
  }

  /** Batch calls the simulator received, excluding any from earlier tests in the same file. */
  calls() {
    return this.sim.cognigy.batchCalls.filter((c) => c.webhookIds.length === 0 || c.webhookIds.some((id) => id.startsWith(this.prefix)));
  }

  async close(): Promise<void> {
    for (const a of this.aggregators) await a.stop().catch(() => undefined);
    for (const r of this.readers) await r.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

/** Committed offsets per partition, and the webhooks Cognigy had acknowledged when they were read. */
export interface CommitReading {
  /** When the offsets were asked for, and when the answer came (epoch ms). */
  askedAt: number;
  at: number;
  committed: Map<number, number>;
  acknowledged: Set<string>;
}

export interface CommitWatch {
  readings: CommitReading[];
  /** Resolves after the last reading. */
  stop(): Promise<void>;
}

/**
 * Reads committed offsets (`read`: per partition of the results topic) every `intervalMs` until
 * stopped, each reading with the webhooks Cognigy had acknowledged once it was read.
 */
export function watchCommits(read: () => Promise<Map<number, number>>, acknowledged: () => Iterable<string>, intervalMs = 200): CommitWatch {
  const readings: CommitReading[] = [];
  let stopped = false;
  const watching = (async () => {
    while (!stopped) {
      const askedAt = Date.now();
      const committed = await read();
      readings.push({ askedAt, at: Date.now(), committed, acknowledged: new Set(acknowledged()) });
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    readings,
    stop: async () => {
      stopped = true;
      await watching;
    },
  };
}

/**
 * Each result whose offset some reading had committed before Cognigy acknowledged it, with the first
 * such reading; `records` is the results topic as read back, which must reach every committed offset.
 */
export function commitsAheadOfAcks(readings: CommitReading[], records: ReadRecord[]): string[] {
  const found = new Map<string, string>();
  for (const { at, committed, acknowledged } of readings) {
    for (const r of records) {
      const eventId = r.headers[Header.eventId] ?? '';
      const to = committed.get(r.partition) ?? -1;
      if (Number(r.offset) < to && !acknowledged.has(eventId) && !found.has(eventId)) {
        found.set(eventId, `${eventId} (partition ${r.partition}, offset ${r.offset}): committed to ${to} at ${new Date(at).toISOString()}, not acknowledged`);
      }
    }
  }
  return [...found.values()];
}

/** Sum of a metric's samples in Prometheus text whose labels include every `labels` pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

export async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}
