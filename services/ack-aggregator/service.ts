import express from 'express';
import { listen, mountOperationalRoutes } from '../../shared/http.js';
import { createIdempotentProducer, createKafka, ensureTopics } from '../../shared/kafka.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import { createMetricsRegistry, trackConsumerLag, type Registry } from '../../shared/metrics.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { topicNames } from '../../shared/topics.js';
import { ApiKeyAuth, OAuthClientCredentials, type CognigyAuth, type FetchLike } from './auth.js';
import { CognigyClient } from './cognigy-client.js';
import type { AckAggregatorConfig } from './config.js';
import { ackMetrics, type AckMetrics } from './metrics.js';
import { AckPipeline } from './pipeline.js';
import { readBatchRecords } from './plan-reader.js';

export interface AckAggregatorDeps {
  logger?: Logger;
  /** The HTTP client for Cognigy (tests may wrap it). */
  fetch?: FetchLike;
}

export interface AckAggregatorHandle {
  url: string;
  port: number;
  registry: Registry;
  metrics: AckMetrics;
  /** Consumer in its group and producer connected. */
  ready(): boolean;
  /**
   * Graceful stop: no more results are taken, the open window is flushed into a batch, batches
   * are submitted (within SHUTDOWN_TIMEOUT_MS), accepted offsets committed, the group left.
   */
  stop(): Promise<void>;
}

/** Time kept back from SHUTDOWN_TIMEOUT_MS for the commit and disconnects after the flush. */
const SHUTDOWN_RESERVE_MS = 3_000;

/**
 * Reads cognigy.fulfillment.results.v1 (group ACK_GROUP_ID), acknowledges to Cognigy in batches,
 * writes plans and outcomes to cognigy.acks.batches.v1 and invalid results to the DLQ.
 */
export async function startAckAggregator(config: AckAggregatorConfig, deps: AckAggregatorDeps = {}): Promise<AckAggregatorHandle> {
  const logger = deps.logger ?? createLogger('ack-aggregator', config.LOG_LEVEL);
  const topics = topicNames(config.TOPIC_PREFIX);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'cognigy-ack-aggregator', logger });

  const admin = kafka.admin();
  await admin.connect();
  const mine = new Set(['results', 'dlq', 'ackBatches']);
  await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)).filter((t) => mine.has(t.role)));

  const schemaRegistry = createRegistry(config.SCHEMA_REGISTRY_URL);
  const resultSerde = new TopicSerde(schemaRegistry, topics.results, 'FulfillmentResult');
  const batchSerde = new TopicSerde(schemaRegistry, topics.ackBatches, 'AckBatch');
  await batchSerde.register();

  const producer = createIdempotentProducer(kafka);
  let producerConnected = false;
  producer.on(producer.events.CONNECT, () => (producerConnected = true));
  producer.on(producer.events.DISCONNECT, () => (producerConnected = false));
  await producer.connect();

  const registry = createMetricsRegistry('ack-aggregator');
  // Read only when /metrics is scraped, after the pipeline exists.
  const metrics = ackMetrics(registry, () => pipeline.outstanding);

  const auth: CognigyAuth =
    config.COGNIGY_AUTH === 'api-key'
      ? new ApiKeyAuth(config.COGNIGY_API_KEY)
      : new OAuthClientCredentials(
          {
            baseUrl: config.COGNIGY_BASE_URL,
            tokenPath: config.COGNIGY_TOKEN_PATH,
            clientId: config.COGNIGY_CLIENT_ID,
            clientSecret: config.COGNIGY_CLIENT_SECRET,
            scope: config.COGNIGY_OAUTH_SCOPE,
            refreshBeforeMs: config.COGNIGY_TOKEN_REFRESH_BEFORE_MS,
            timeoutMs: config.COGNIGY_TIMEOUT_MS,
          },
          { fetch: deps.fetch, onTokenRequest: (outcome) => metrics.tokenRequests.inc({ outcome }) },
        );
  const client = new CognigyClient(
    { baseUrl: config.COGNIGY_BASE_URL, ackPath: config.COGNIGY_ACK_PATH, timeoutMs: config.COGNIGY_TIMEOUT_MS },
    auth,
    { fetch: deps.fetch },
  );

  const consumer = kafka.consumer({
    groupId: config.ACK_GROUP_ID,
    sessionTimeout: config.ACK_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.min(3_000, Math.floor(config.ACK_SESSION_TIMEOUT_MS / 3)),
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  });
  const pipeline = new AckPipeline(
    {
      groupId: config.ACK_GROUP_ID,
      resultsTopic: topics.results,
      dlqTopic: topics.dlq,
      batchesTopic: topics.ackBatches,
      limits: { maxBatch: config.ACK_MAX_BATCH, windowMs: config.ACK_WINDOW_MS },
      maxPending: config.ACK_MAX_PENDING,
      maxConcurrentBatches: config.ACK_MAX_CONCURRENT_BATCHES,
      planLookbackMs: config.ACK_PLAN_LOOKBACK_MS,
      backoff: { baseDelayMs: config.COGNIGY_RETRY_BASE_DELAY_MS, maxDelayMs: config.COGNIGY_RETRY_MAX_DELAY_MS },
    },
    {
      consumer,
      producer,
      registry: schemaRegistry,
      resultSerde,
      batchSerde,
      readBatchRecords: (sinceMs) =>
        readBatchRecords({ kafka, admin, topic: topics.ackBatches, serde: batchSerde, groupId: config.ACK_GROUP_ID, logger }, sinceMs),
      client,
      metrics,
      logger,
    },
  );

  let joined = false;
  consumer.on(consumer.events.REBALANCING, () => {
    joined = false;
    pipeline.onRebalance();
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    joined = true;
    pipeline.onRebalance();
    logger.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
  });
  consumer.on(consumer.events.CRASH, (event) => {
    joined = false;
    logger.error({ err: event.payload.error?.message, restart: event.payload.restart }, 'consumer crashed');
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.results], fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatch: pipeline.handleBatch });

  const lag = trackConsumerLag({ registry, admin, groupId: config.ACK_GROUP_ID, topics: [topics.results], logger });
  let stopping = false;
  const ready = () => joined && producerConnected && !stopping;
  const app = express();
  app.disable('x-powered-by');
  mountOperationalRoutes(app, { registry, ready });
  const server = await listen(app, config.ACK_AGGREGATOR_PORT, config.ACK_AGGREGATOR_HOST);
  logger.info(
    {
      port: server.port,
      groupId: config.ACK_GROUP_ID,
      results: topics.results,
      cognigy: config.COGNIGY_BASE_URL + config.COGNIGY_ACK_PATH,
      auth: config.COGNIGY_AUTH,
      maxBatch: config.ACK_MAX_BATCH,
      windowMs: config.ACK_WINDOW_MS,
    },
    'ack aggregator started',
  );

  let stopped: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    registry,
    metrics,
    ready,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        consumer.pause([{ topic: topics.results }]);
        await pipeline.stop(Math.max(500, config.SHUTDOWN_TIMEOUT_MS - SHUTDOWN_RESERVE_MS));
        lag.stop();
        await consumer.disconnect();
        await producer.disconnect();
        await admin.disconnect();
        await server.close();
      })()),
  };
}
