import express from 'express';
import { listen, mountOperationalRoutes } from '../../shared/http.js';
import { createIdempotentProducer, createKafka, ensureTopics } from '../../shared/kafka.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import { createMetricsRegistry, trackConsumerLag, type Registry } from '../../shared/metrics.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { topicNames } from '../../shared/topics.js';
import { DedupWindow } from '../../shared/dedup-window.js';
import { callbackDecoder } from './codec.js';
import { retryPolicyOf, thresholdsOf, type FulfillmentConfig } from './config.js';
import { DownstreamClient, type BreakerState } from './downstream-client.js';
import { Intake } from './intake.js';
import { KeyOrderedExecutor } from './key-ordered-executor.js';
import { fulfillmentMetrics } from './metrics.js';
import { AtLeastOnceOutput, ExactlyOnceOutput, type Output } from './output.js';
import { PauseControl } from './pauses.js';
import { RecordProcessor } from './processor.js';
import { retryTiers } from './retry-policy.js';

export interface FulfillmentHandle {
  url: string;
  port: number;
  metrics: Registry;
  breakerState(): BreakerState;
  /** Stops intake, finishes running records, writes and commits, leaves the group, disconnects. */
  stop(): Promise<void>;
}

const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * Wires the fulfillment consumer group: topics, clients, the record pipeline and the HTTP
 * operational endpoints. Returns once the consumer runs (it joins the group in the background).
 */
export async function startFulfillment(
  config: FulfillmentConfig,
  opts: { logger?: Logger; onFatal?: (error: unknown) => void } = {},
): Promise<FulfillmentHandle> {
  const logger = opts.logger ?? createLogger('fulfillment', config.LOG_LEVEL);
  const policy = retryPolicyOf(config);
  const topics = topicNames(config.TOPIC_PREFIX);
  const retryTopics = retryTiers(policy).map((tier) => topics.retry(tier));
  const inputTopics = [topics.callbacks, ...retryTopics];
  const tierOf = (topic: string) => retryTopics.indexOf(topic) + 1;

  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'cognigy-fulfillment', logger });
  const admin = kafka.admin();
  await admin.connect();
  // Topics as the shared catalogue describes them (partitions, replication, retention), whoever creates them first.
  const mine = new Set(['callbacks', 'retry', 'results', 'dlq']);
  await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)).filter((t) => mine.has(t.role)));

  const schemaRegistry = createRegistry(config.SCHEMA_REGISTRY_URL);
  const resultSerde = new TopicSerde(schemaRegistry, topics.results, 'FulfillmentResult');
  await resultSerde.register();

  const registry = createMetricsRegistry('fulfillment');
  const metrics = fulfillmentMetrics(registry);
  const downstream = new DownstreamClient(
    {
      url: config.DOWNSTREAM_URL,
      timeoutMs: config.DOWNSTREAM_TIMEOUT_MS,
      consecutiveFailures: config.BREAKER_CONSECUTIVE_FAILURES,
      halfOpenAfterMs: config.BREAKER_HALF_OPEN_AFTER_MS,
      maxInFlight: config.FULFILLMENT_MAX_IN_FLIGHT,
    },
    (outcome, seconds) => metrics.downstreamLatency.observe({ outcome }, seconds),
  );
  const recent = new DedupWindow<true>(config.FULFILLMENT_DEDUP_WINDOW_S * 1_000, config.FULFILLMENT_DEDUP_MAX_ENTRIES);
  const processor = new RecordProcessor({
    topics,
    tierOf,
    decode: callbackDecoder(new TopicSerde(schemaRegistry, topics.callbacks, 'CognigyCallback')),
    encodeResult: (result) => resultSerde.encode(result),
    downstream,
    thresholds: thresholdsOf(config),
    policy,
    recent,
    metrics,
    logger,
  });

  const consumer = kafka.consumer({
    groupId: config.FULFILLMENT_GROUP_ID,
    sessionTimeout: config.FULFILLMENT_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.floor(config.FULFILLMENT_SESSION_TIMEOUT_MS / 10),
    // Short fetch waits: a partition resumed after a pause is fetched again within this time.
    maxWaitTimeInMs: 250,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  const pauses = new PauseControl(consumer, inputTopics);
  // Every buffered record whose session is free may run; the downstream bulkhead bounds the calls.
  const executor = new KeyOrderedExecutor(config.FULFILLMENT_MAX_BUFFERED, (error) => logger.error({ err: error }, 'record task failed'));
  // The output commits the intake's partitions, and the intake hands finished records to the output.
  const link: { intake?: Intake } = {};
  const outputDeps = {
    consumer,
    groupId: config.FULFILLMENT_GROUP_ID,
    works: () => link.intake?.live() ?? [],
    recent,
    metrics,
    logger,
    commitIntervalMs: config.FULFILLMENT_COMMIT_INTERVAL_MS,
  };
  let output: Output;
  if (config.EXACTLY_ONCE) {
    const prefix = config.FULFILLMENT_TRANSACTIONAL_ID_PREFIX ?? config.FULFILLMENT_GROUP_ID;
    output = new ExactlyOnceOutput(kafka, admin, prefix, outputDeps, (work, error) => link.intake?.restart(work, error));
  } else {
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    output = new AtLeastOnceOutput(producer, outputDeps);
  }
  const intake = new Intake({
    consumer,
    tierOf,
    executor,
    processor,
    output,
    pauses,
    metrics,
    logger,
    maxBuffered: config.FULFILLMENT_MAX_BUFFERED,
    ordering: config.FULFILLMENT_ORDERING,
  });
  link.intake = intake;

  downstream.onBlocked((blocked) => {
    logger.warn({ blocked }, blocked ? 'downstream breaker open: pausing intake' : 'downstream trial possible: resuming intake');
    pauses.setBlocked(blocked);
  });
  downstream.onStateChange((state) => metrics.breakerState.set(BREAKER_GAUGE[state]));
  metrics.breakerState.set(0);
  const sampler = setInterval(() => metrics.buffered.set(executor.size), 1_000);
  sampler.unref();

  let joined = false;
  let stopping = false;
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    joined = true;
    intake.onAssignment(event.payload.memberAssignment);
  });
  consumer.on(consumer.events.CRASH, (event) => {
    logger.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
    if (!event.payload.restart && !stopping) (opts.onFatal ?? (() => {}))(event.payload.error);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: inputTopics, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: intake.eachBatch });
  const lag = trackConsumerLag({ registry, admin, groupId: config.FULFILLMENT_GROUP_ID, topics: inputTopics, logger });

  const app = express();
  app.disable('x-powered-by');
  mountOperationalRoutes(app, { registry, ready: () => joined && !stopping });
  const server = await listen(app, config.FULFILLMENT_PORT, config.FULFILLMENT_HOST);
  logger.info({ port: server.port, inputTopics, exactlyOnce: config.EXACTLY_ONCE, groupId: config.FULFILLMENT_GROUP_ID }, 'fulfillment running');

  return {
    url: server.url,
    port: server.port,
    metrics: registry,
    breakerState: () => downstream.state,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await intake.stop(Math.max(100, Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2)));
      lag.stop();
      clearInterval(sampler);
      await consumer.disconnect();
      await output.stop();
      downstream.close();
      await admin.disconnect();
      await server.close();
      logger.info('fulfillment stopped');
    },
  };
}
