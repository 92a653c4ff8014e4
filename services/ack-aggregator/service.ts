import { TopicSerde } from '../../shared/serde.js';
import { RecordDecoder } from '../../shared/stage/decoder.js';
import { startDedupStore } from '../../shared/stage/dedup-store.js';
import { startStage, type StageDeps, type StageHandle } from '../../shared/stage/stage.js';
import type { FetchLike } from '../../shared/cognigy/auth.js';
import { CognigyClient } from './cognigy-client.js';
import { cognigyAuthOf, stageSettingsOf, type AckAggregatorConfig } from './config.js';
import { ackMetrics } from './metrics.js';
import { AckPipeline } from './pipeline.js';
import { readBatchRecords } from './plan-reader.js';

export type AckAggregatorHandle = StageHandle;

export interface AckAggregatorDeps extends StageDeps {
  /** The HTTP client for Cognigy (tests may wrap it). */
  fetch?: FetchLike;
}

/**
 * The ack aggregator: the stage kit around the batching pipeline. Reads the results topic,
 * acknowledges to Cognigy in batches, writes plans and outcomes to the batches topic and invalid
 * results to the DLQ. Stopping flushes the open window into a batch and submits what it can
 * within SHUTDOWN_TIMEOUT_MS; what Cognigy has not taken is resent with the same key at the next start.
 */
export async function startAckAggregator(c: AckAggregatorConfig, deps: AckAggregatorDeps = {}): Promise<AckAggregatorHandle> {
  return startStage(stageSettingsOf(c), deps, async (kit) => {
    const { topics, logger, consumer } = kit;
    const batchSerde = new TopicSerde(kit.schemaRegistry, topics.ackBatches, 'AckBatch');
    await batchSerde.register();
    const metrics = ackMetrics(kit.metrics, () => pipeline.outstanding);
    const auth = cognigyAuthOf(c, { fetch: deps.fetch, onTokenRequest: (outcome) => metrics.tokenRequests.inc({ outcome }) });
    const client = new CognigyClient({ baseUrl: c.COGNIGY_BASE_URL, ackPath: c.COGNIGY_ACK_PATH, timeoutMs: c.COGNIGY_TIMEOUT_MS }, auth, { fetch: deps.fetch });
    const dedup = await startDedupStore(kit, {
      topic: topics.acksDedup,
      groupId: c.ACK_GROUP_ID,
      windowMs: c.ACK_DEDUP_WINDOW_S * 1_000,
      maxEntries: c.ACK_DEDUP_MAX_ENTRIES,
    });
    const planReader = { kafka: kit.kafka, admin: kit.admin, topic: topics.ackBatches, serde: batchSerde, groupId: c.ACK_GROUP_ID, logger };
    const pipeline = new AckPipeline(
      {
        groupId: c.ACK_GROUP_ID,
        dlqTopic: topics.dlq,
        batchesTopic: topics.ackBatches,
        limits: { maxBatch: c.ACK_MAX_BATCH, windowMs: c.ACK_WINDOW_MS },
        maxPending: c.ACK_MAX_PENDING,
        maxConcurrentBatches: c.ACK_MAX_CONCURRENT_BATCHES,
        planLookbackMs: c.ACK_PLAN_LOOKBACK_MS,
        backoff: { baseDelayMs: c.COGNIGY_RETRY_BASE_DELAY_MS, maxDelayMs: c.COGNIGY_RETRY_MAX_DELAY_MS },
      },
      {
        commitOffsets: (offsets) => consumer.commitOffsets(offsets),
        producer: await kit.idempotentProducer(),
        results: new RecordDecoder(new TopicSerde(kit.schemaRegistry, topics.results, 'FulfillmentResult')),
        batchSerde,
        readBatchRecords: (sinceMs) => readBatchRecords(planReader, sinceMs),
        client,
        metrics,
        logger,
        deadLetters: kit.deadLetters,
        dedup,
      },
    );
    return {
      eachBatch: pipeline.handleBatch,
      onRebalancing: pipeline.onRebalance,
      onAssignment: pipeline.onRebalance,
      drain: (budgetMs) => pipeline.stop(budgetMs),
      close: () => dedup.stop(),
      describe: { cognigy: c.COGNIGY_BASE_URL + c.COGNIGY_ACK_PATH, auth: c.COGNIGY_AUTH, maxBatch: c.ACK_MAX_BATCH, windowMs: c.ACK_WINDOW_MS },
    };
  });
}
