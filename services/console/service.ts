import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { clientSettings, connectAdmin } from '../../shared/client-settings.js';
import type { AckBatch, FulfillmentResult } from '../../shared/contracts.js';
import { errorMessage } from '../../shared/errors.js';
import { listen } from '../../shared/http.js';
import { createKafka } from '../../shared/kafka.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import { createMetricsRegistry, Gauge, type Registry } from '../../shared/metrics.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { RecordDecoder } from '../../shared/stage/decoder.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';
import { TopicFollower } from '../../shared/stage/topic-follower.js';
import { fulfillmentInputs, topicNames } from '../../shared/topics.js';
import { createConsoleApp } from './app.js';
import { ConsoleAuth } from './auth.js';
import type { ConsoleConfig } from './config.js';
import { DeadLetterIndex } from './dead-letters.js';
import { EventIndex } from './event-index.js';
import { FlowSampler } from './flow-sampler.js';
import { ConsoleOperations } from './operations.js';
import type { SessionView } from './views.js';

export interface ConsoleHandle {
  url: string;
  port: number;
  metrics: Registry;
  stop(): Promise<void>;
}

/**
 * Topics the services created a moment ago may not have their leaders known yet (a fresh broker
 * answers NOT_LEADER for a while, and kafkajs' admin does not ask again): asked again with backoff.
 */
const leadersSettled = retry(
  handleWhen((error) => (error as { retriable?: unknown }).retriable === true),
  { maxAttempts: 12, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) },
);

/** Reader groups of the console: short sessions, so a restarted broker lets them back in quickly. */
const MEMBERSHIP = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 };

/**
 * The operator console: follows the DLQ (whole), the callbacks, results and batches topics
 * (CONSOLE_HISTORY_MS back) into memory, samples the services' metrics and the consumer lag, and
 * serves the page and its API. Reads only, unless CONSOLE_ALLOW_ACTIONS lets it redrive and replay.
 */
export async function startConsole(config: ConsoleConfig, deps: { logger?: Logger; onFatal?: (error: unknown) => void } = {}): Promise<ConsoleHandle> {
  const logger = deps.logger ?? createLogger('console', config.LOG_LEVEL);
  const topics = topicNames(config.TOPIC_PREFIX);
  const clients = clientSettings(config, 'cognigy-console');
  const kafka = createKafka({ ...clients.kafka, logger });
  const admin = kafka.admin();
  await connectAdmin(admin, clients.kafka);
  const registry = createRegistry(clients.registry.url, clients.registry.auth);
  const metrics = createMetricsRegistry('console');
  const onFatal = deps.onFatal ?? ((error: unknown) => {
    logger.fatal({ err: errorMessage(error) }, 'a topic reader crashed without restart; stopping');
    process.exit(1);
  });

  const groups = [
    { group: config.FULFILLMENT_GROUP_ID, topics: fulfillmentInputs(topics, config.RETRY_MAX_ATTEMPTS) },
    { group: config.ACK_GROUP_ID, topics: [topics.results] },
    { group: config.SESSION_WRITER_GROUP_ID, topics: [topics.results] },
  ];
  const session: SessionView = {
    actionsAllowed: config.CONSOLE_ALLOW_ACTIONS,
    refreshMs: config.CONSOLE_REFRESH_MS,
    topics: { callbacks: topics.callbacks, results: topics.results, dlq: topics.dlq, batches: topics.ackBatches },
    groups,
  };
  const deadLetters = new DeadLetterIndex(topics, config.CONSOLE_MAX_DEAD_LETTERS);
  const events = new EventIndex(config.CONSOLE_MAX_EVENTS);
  const results = new RecordDecoder(new TopicSerde(registry, topics.results, 'FulfillmentResult'));
  const batches = new RecordDecoder(new TopicSerde(registry, topics.ackBatches, 'AckBatch'));
  // The whole dead-letter topic: from each partition's first record, and where reading stopped after a rejoin.
  const wholeTopic = async (topic: string) => {
    const offsets = await leadersSettled.execute(() => admin.fetchTopicOffsets(topic));
    return new Map(offsets.map((o) => [o.partition, Number(o.low)]));
  };
  const historyStart = async (topic: string) => {
    const offsets = await leadersSettled.execute(() => admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - config.CONSOLE_HISTORY_MS));
    return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
  };
  /** A record that does not decode is left out of the view; the stages dead-letter it themselves. */
  const decodeEach = <T>(decoder: { decode(value: Buffer | null): Promise<T> }, use: (record: ConsumedRecord, value: T) => void) => async (records: ConsumedRecord[]) => {
    for (const record of records) {
      try {
        use(record, await decoder.decode(record.value));
      } catch (error) {
        logger.debug({ err: errorMessage(error), topic: record.topic, partition: record.partition, offset: record.offset }, 'record left out of the console');
      }
    }
  };
  const follower = (topic: string, onRecords: (records: ConsumedRecord[]) => void | Promise<void>, startAt: (topic: string) => Promise<Map<number, number>>) =>
    new TopicFollower({
      kafka,
      admin,
      logger,
      topic,
      groupPrefix: 'cognigy-console',
      membership: MEMBERSHIP,
      onFatal,
      onRecords,
      startAt: () => startAt(topic),
    });
  const followers = [
    follower(topics.dlq, (records) => deadLetters.add(records), wholeTopic),
    follower(topics.callbacks, (records) => records.forEach((r) => events.callback(r)), historyStart),
    follower(topics.results, decodeEach<FulfillmentResult>(results, (record, result) => events.result(record, result)), historyStart),
    follower(topics.ackBatches, decodeEach<AckBatch>(batches, (_record, batch) => events.batch(batch)), historyStart),
  ];
  const existing = new Set(await admin.listTopics());
  const missing = [topics.dlq, topics.callbacks, topics.results, topics.ackBatches].filter((t) => !existing.has(t));
  if (missing.length > 0) throw new Error(`topics missing: ${missing.join(', ')} (start the pipeline first, or run: npm run cli -- topics ensure)`);
  await Promise.all(followers.map((f) => f.start()));

  new Gauge({ name: 'console_dead_letters', help: 'Dead letters the console holds', registers: [metrics], collect() { this.set(deadLetters.size); } });
  new Gauge({ name: 'console_events', help: 'Event ids the console remembers', registers: [metrics], collect() { this.set(events.size); } });

  const flow = new FlowSampler({ admin, logger, metricsUrls: config.CONSOLE_METRICS_URLS, groups, intervalMs: config.CONSOLE_REFRESH_MS });
  flow.start();
  const operations = new ConsoleOperations({ kafka, admin, registry, topics, redriveGroup: config.DLQ_REDRIVE_GROUP_ID, retryMaxAttempts: config.RETRY_MAX_ATTEMPTS });
  const app = createConsoleApp({ auth: new ConsoleAuth(config.CONSOLE_TOKEN), session, flow, deadLetters, events, operations, registry: metrics, ready: () => true });
  const server = await listen(app, config.CONSOLE_PORT, config.CONSOLE_HOST);
  logger.info({ port: server.port, actions: config.CONSOLE_ALLOW_ACTIONS, metricsUrls: config.CONSOLE_METRICS_URLS }, 'console listening');

  return {
    url: server.url,
    port: server.port,
    metrics,
    stop: async () => {
      await server.close();
      await flow.stop();
      await Promise.all(followers.map((f) => f.stop()));
      await admin.disconnect();
    },
  };
}
