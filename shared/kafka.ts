/**
 * The one place that imports the Kafka client. kafkajs is unmaintained since 2023; everything else
 * imports these names from here, so the client can be replaced in one module if it ever has to be.
 */
import kafkajs from 'kafkajs';
import type { Admin, Kafka, LogEntry, Producer, ProducerConfig } from 'kafkajs';
import type { Logger } from './logging.js';

export type {
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  KafkaMessage,
  Message,
  Producer,
  ProducerConfig,
  RecordMetadata,
  Transaction,
  TopicPartitionOffsetAndMetadata,
} from 'kafkajs';

// kafkajs is CommonJS with computed exports, so values come from its default export.
const { Kafka: KafkaClass, Partitioners, CompressionTypes, logLevel: KafkaLogLevel } = kafkajs;
export const {
  KafkaJSError,
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSNonRetriableError,
  KafkaJSRequestTimeoutError,
} = kafkajs;

export { CompressionTypes };
/** Topic config lookups and changes (operations CLI). */
export const { ConfigResourceTypes, ConfigSource } = kafkajs;
export type KafkaClient = Kafka;

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** How long a request may take before the client gives up on a broker (ms). */
  requestTimeoutMs?: number;
  /** Client-level retries for connection and request errors. */
  retries?: number;
}

export function createKafka(settings: KafkaSettings): Kafka {
  return new KafkaClass({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: 3_000,
    requestTimeout: settings.requestTimeoutMs ?? 30_000,
    retry: { retries: settings.retries ?? 5, initialRetryTime: 100, maxRetryTime: 5_000 },
    logLevel: KafkaLogLevel.WARN,
    logCreator: settings.logger ? pinoLogCreator(settings.logger) : undefined,
  });
}

/**
 * An idempotent producer (acks=-1 is implied and enforced by kafkajs when idempotent). Its retries
 * are unbounded unless the caller bounds them, as exactly-once delivery requires.
 */
export function createIdempotentProducer(kafka: Kafka, extra: ProducerConfig = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5_000 },
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    ...extra,
  });
}

/** A transactional producer for exactly-once read-process-write. */
export function createTransactionalProducer(kafka: Kafka, transactionalId: string): Producer {
  return createIdempotentProducer(kafka, { transactionalId, maxInFlightRequests: 1 });
}

/**
 * Whether the cluster serves metadata right now. One attempt with short timeouts and nothing logged:
 * a caller polling a broker that is still starting wants a quick answer, not retries or error logs.
 * Connection errors are thrown, as from any other admin call.
 */
export async function clusterAnswers(brokers: string[], clientId: string): Promise<boolean> {
  const admin = new KafkaClass({
    clientId,
    brokers,
    logLevel: KafkaLogLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.listTopics();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries?: { name: string; value: string }[];
}

/**
 * Creates the topics that are missing (existing ones are left as they are) and returns once every
 * one of them has a leader. Replicas starting side by side race to create the same topics, and a
 * broker briefly answers "unknown topic" right after creating one, so both are retried here.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[], timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const wanted = specs.map((s) => s.topic);
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: false });
    } catch (error) {
      if (!(error instanceof Error && /already exists/i.test(error.message))) throw error;
    }
  }
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: wanted });
      if (topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics without a leader after ${timeoutMs} ms: ${wanted.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return missing.map((s) => s.topic);
}

/** Kafka's own log lines go through pino at the matching level. */
function pinoLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafka' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level <= KafkaLogLevel.ERROR) child.error(extra, message);
      else if (level === KafkaLogLevel.WARN) child.warn(extra, message);
      else if (level === KafkaLogLevel.INFO) child.info(extra, message);
      else child.debug(extra, message);
    };
}
