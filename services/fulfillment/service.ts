import type { FulfillmentResult } from '../../shared/contracts.js';
import { startDedupStore } from '../../shared/stage/dedup-store.js';
import { RecordDecoder } from '../../shared/stage/decoder.js';
import type { TopicPartitionOffset } from '../../shared/stage/offsets.js';
import { startStage, type StageDeps, type StageHandle, type StageKit, type StageParts } from '../../shared/stage/stage.js';
import { TopicSerde } from '../../shared/serde.js';
import { downstreamOf, retryPolicyOf, stageSettingsOf, thresholdsOf, type FulfillmentConfig } from './config.js';
import { DownstreamClient, type BreakerState } from './downstream-client.js';
import { Intake } from './intake.js';
import { KeyOrderedExecutor } from './key-ordered-executor.js';
import { fulfillmentMetrics, watchDownstream } from './metrics.js';
import { openOutput } from './output.js';
import { PauseControl } from './pauses.js';
import { lacksCallbackIdentity, RecordProcessor } from './processor.js';

export interface FulfillmentHandle extends StageHandle {
  breakerState(): BreakerState;
}

/** The fulfillment consumer group: the stage kit around intake, processor, downstream client and output. */
export async function startFulfillment(c: FulfillmentConfig, deps: StageDeps = {}): Promise<FulfillmentHandle> {
  const policy = retryPolicyOf(c);
  const downstream = new DownstreamClient(downstreamOf(c));
  const stage = await startStage(stageSettingsOf(c, policy), deps, (kit) => fulfillmentParts(c, kit, downstream));
  return { ...stage, breakerState: () => downstream.state };
}

async function fulfillmentParts(c: FulfillmentConfig, kit: StageKit, downstream: DownstreamClient): Promise<StageParts> {
  const { topics, inputs, logger, consumer } = kit;
  // Every buffered record whose session is free may run; the downstream bulkhead bounds the calls.
  const executor = new KeyOrderedExecutor(c.FULFILLMENT_MAX_BUFFERED, (error) => logger.error({ err: error }, 'record task failed'));
  const metrics = fulfillmentMetrics(kit.metrics, () => executor.size);
  watchDownstream(metrics, downstream);
  // Retry tier n is input n (stageSettingsOf).
  const tierOf = (topic: string) => inputs.indexOf(topic);
  const resultSerde = new TopicSerde(kit.schemaRegistry, topics.results, 'FulfillmentResult');
  await resultSerde.register();
  const callbacks = new RecordDecoder(new TopicSerde(kit.schemaRegistry, topics.callbacks, 'CognigyCallback'), lacksCallbackIdentity);
  const dedup = await startDedupStore(kit, {
    topic: topics.fulfillmentDedup,
    groupId: c.FULFILLMENT_GROUP_ID,
    windowMs: c.FULFILLMENT_DEDUP_WINDOW_S * 1_000,
    maxEntries: c.FULFILLMENT_DEDUP_MAX_ENTRIES,
  });
  const decode = (value: Buffer | null) => callbacks.decode(value);
  const encodeResult = (result: FulfillmentResult) => resultSerde.encode(result);
  const processor = new RecordProcessor({ topics, tierOf, decode, encodeResult, downstream, thresholds: thresholdsOf(c), policy: retryPolicyOf(c), dedup, metrics, logger });
  const transactionalIdPrefix = c.EXACTLY_ONCE ? (c.FULFILLMENT_TRANSACTIONAL_ID_PREFIX ?? c.FULFILLMENT_GROUP_ID) : undefined;
  const commitOffsets = (offsets: TopicPartitionOffset[]) => consumer.commitOffsets(offsets);
  const output = await openOutput(kit, transactionalIdPrefix, {
    commitOffsets,
    groupId: c.FULFILLMENT_GROUP_ID,
    dedup,
    metrics,
    logger,
    commitIntervalMs: c.FULFILLMENT_COMMIT_INTERVAL_MS,
    deadLetters: kit.deadLetters,
  });
  const pauses = new PauseControl(consumer, inputs);
  const intake = new Intake({ consumer, tierOf, executor, processor, output, pauses, metrics, logger, maxBuffered: c.FULFILLMENT_MAX_BUFFERED, ordering: c.FULFILLMENT_ORDERING });
  downstream.onBlocked((blocked) => {
    logger.warn({ blocked }, blocked ? 'downstream breaker open: pausing intake' : 'downstream trial possible: resuming intake');
    pauses.setBlocked(blocked);
  });
  return {
    eachBatch: intake.eachBatch,
    eachBatchAutoResolve: false,
    onAssignment: (assignment) => intake.onAssignment(assignment),
    drain: (budgetMs) => intake.stop(Math.floor(budgetMs / 2)),
    close: async () => {
      await output.stop();
      await dedup.stop();
      downstream.close();
    },
    describe: { exactlyOnce: c.EXACTLY_ONCE },
  };
}
