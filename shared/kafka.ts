/**
 * The one place that imports the Kafka client. kafkajs is unmaintained since 2023; everything else
 * imports these names from here, so the client can be replaced in one module if it ever has to be.
 */
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import type { Admin, Kafka, LogEntry, Producer, ProducerConfig, SASLOptions } from 'kafkajs';
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

/** How a client proves itself to the brokers: TLS (trusting `ca` if given) and SASL. Neither by default. */
export interface KafkaSecurity {
  ssl?: true | { ca: string };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

export interface KafkaSettings extends KafkaSecurity {
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
    ssl: settings.ssl,
    // kafkajs types each mechanism separately; all three take the same username and password.
    sasl: settings.sasl as SASLOptions | undefined,
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
 * Whether the cluster serves metadata right now, to a client with these credentials. One attempt with
 * short timeouts and nothing logged: a caller polling a broker that is still starting wants a quick
 * answer, not retries or error logs. Connection and authentication errors are thrown, as from any
 * other admin call.
 */
export async function clusterAnswers(brokers: string[], clientId: string, security: KafkaSecurity = {}): Promise<boolean> {
  const admin = new KafkaClass({
    clientId,
    brokers,
    ssl: security.ssl,
    sasl: security.sasl as SASLOptions | undefined,
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

/**
 * kafkajs logs every error response at error level, also the retriable ones it then retries on its
 * own: a broker that is still loading its group coordinator, a leader moving, a topic a moment after
 * its creation. Those are routine (every start and broker restart has some) and go to info; what
 * kafkajs gives up on surfaces as an error from the call that failed, and the caller logs that.
 */
const RETRIABLE_RESPONSE_ERRORS = new Set(
  (createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: { message: string; retriable: boolean }[] }).errorCodes
    .filter((code) => code.retriable)
    .map((code) => code.message),
);

/** kafkajs warnings about settings this project chose on purpose (the ingress bounds its producer's retries). */
const DELIBERATE_SETTING_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/** A consumer crash kafkajs logs as `Crash: <error name>: <message>` before it restarts the consumer. */
const CRASH = /^Crash: KafkaJSProtocolError: (.*)$/;
const RESTART = /^Restarting the consumer in /;
/**
 * kafkajs counts a group coordinator it could not find as final; the stage and the dedup reader
 * start such a consumer again themselves (a broker starting or loading its group state) and log
 * that at warn, so kafkajs' own crash line is not an error.
 */
const COORDINATOR_NOT_FOUND = /^Crash: KafkaJSGroupCoordinatorNotFound: /;

export type KafkaLineLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * The level a kafkajs log line is written at. A consumer that crashes on a retriable response (a
 * JoinGroup while the coordinator is loading) is restarted by kafkajs itself: the crash and its
 * restart line are routine too. A restart after any other crash is a warning, the crash its error.
 */
export function kafkaLineLevels(): (level: number, log: { message: string; [field: string]: unknown }) => KafkaLineLevel {
  const routineCrash = new Map<string, boolean>();
  return (level, { message, ...extra }) => {
    const group = typeof extra.groupId === 'string' ? extra.groupId : '';
    if (COORDINATOR_NOT_FOUND.test(message)) return 'info';
    if (message.startsWith('Crash: ')) {
      const retriable = RETRIABLE_RESPONSE_ERRORS.has(CRASH.exec(message)?.[1] ?? '');
      routineCrash.set(group, retriable);
      return retriable ? 'info' : 'error';
    }
    if (RESTART.test(message)) {
      const afterRoutine = routineCrash.get(group) === true;
      routineCrash.delete(group);
      return afterRoutine ? 'info' : 'warn';
    }
    const routine =
      (level <= KafkaLogLevel.ERROR && typeof extra.error === 'string' && RETRIABLE_RESPONSE_ERRORS.has(extra.error)) ||
      DELIBERATE_SETTING_WARNINGS.has(message);
    if (routine) return 'info';
    if (level <= KafkaLogLevel.ERROR) return 'error';
    if (level === KafkaLogLevel.WARN) return 'warn';
    if (level === KafkaLogLevel.INFO) return 'info';
    return 'debug';
  };
}

/** Kafka's own log lines go through pino at the matching level, routine retries below warn. */
function pinoLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafka' });
  return () => {
    const levelOf = kafkaLineLevels();
    return ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      child[levelOf(level, log)](extra, message);
    };
  };
}
