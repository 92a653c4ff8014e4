import { z } from 'zod';
import { ConfigError, env } from './config.js';
import type { TopicSpec } from './kafka.js';
import { topicNames } from './topics.js';

const DAY_MS = 24 * 60 * 60 * 1_000;

/**
 * Production settings of every topic the pipeline owns. Services may create their own topics at
 * start from the same catalogue, and `topics ensure` creates or checks all of them, so a topic
 * looks the same whoever created it first.
 */
export interface TopicSettings {
  prefix: string;
  partitions: number;
  replicationFactor: number;
  /** Writes with acks=all fail when fewer replicas than this are in sync. */
  minInsyncReplicas: number;
  /** Callbacks, results and retry tiers. */
  retentionMs: number;
  /** Dead letters wait for an operator: kept much longer. */
  dlqRetentionMs: number;
  /** Batch plans and outcomes are the audit trail of what Cognigy was told. */
  ackBatchesRetentionMs: number;
  /** Dedup changelogs: at least the longest dedup window (FULFILLMENT_DEDUP_WINDOW_S, ACK_DEDUP_WINDOW_S). */
  dedupRetentionMs: number;
  /** Attempts counting the first call; retry tiers are 1..retryMaxAttempts-1. */
  retryMaxAttempts: number;
}

export type TopicRole = 'callbacks' | 'retry' | 'results' | 'dlq' | 'ackBatches' | 'fulfillmentDedup' | 'acksDedup';

export interface CatalogTopic extends TopicSpec {
  role: TopicRole;
  configEntries: { name: string; value: string }[];
}

/** Env names of the settings beyond `commonEnv` (TOPIC_PREFIX, TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR). */
export const topicCatalogEnv = {
  TOPIC_MIN_INSYNC_REPLICAS: z.coerce
    .number({ error: 'expected an integer from 1 to 32' })
    .int('expected an integer from 1 to 32')
    .min(1, 'expected an integer from 1 to 32')
    .max(32, 'expected an integer from 1 to 32')
    .optional(),
  TOPIC_RETENTION_MS: env.int(7 * DAY_MS, 60_000),
  TOPIC_DLQ_RETENTION_MS: env.int(30 * DAY_MS, 60_000),
  TOPIC_ACK_BATCHES_RETENTION_MS: env.int(90 * DAY_MS, 60_000),
  TOPIC_DEDUP_RETENTION_MS: env.int(DAY_MS, 60_000),
  RETRY_MAX_ATTEMPTS: env.int(4, 1, 10),
};

export interface TopicCatalogEnv {
  TOPIC_PREFIX: string;
  TOPIC_PARTITIONS: number;
  TOPIC_REPLICATION_FACTOR: number;
  TOPIC_MIN_INSYNC_REPLICAS?: number | undefined;
  TOPIC_RETENTION_MS: number;
  TOPIC_DLQ_RETENTION_MS: number;
  TOPIC_ACK_BATCHES_RETENTION_MS: number;
  TOPIC_DEDUP_RETENTION_MS: number;
  RETRY_MAX_ATTEMPTS: number;
}

/**
 * Without an explicit value: one replica may be lost without refusing writes, and never more than
 * two are required (replication 3 -> 2, replication 1 or 2 -> 1).
 */
export function defaultMinInsyncReplicas(replicationFactor: number): number {
  return Math.min(2, Math.max(1, replicationFactor - 1));
}

/** One line when TOPIC_MIN_INSYNC_REPLICAS cannot be met by TOPIC_REPLICATION_FACTOR replicas. */
function minInsyncProblem(config: Pick<TopicCatalogEnv, 'TOPIC_REPLICATION_FACTOR' | 'TOPIC_MIN_INSYNC_REPLICAS'>): string | undefined {
  const wanted = config.TOPIC_MIN_INSYNC_REPLICAS;
  if (wanted === undefined || wanted <= config.TOPIC_REPLICATION_FACTOR) return undefined;
  return `expected at most TOPIC_REPLICATION_FACTOR (${config.TOPIC_REPLICATION_FACTOR}), got ${wanted}`;
}

/**
 * For the superRefine of every configuration that includes `topicCatalogEnv`: settings the topics
 * could never be created with stop the start with one line, before anything connects.
 */
export function checkTopicCatalog(
  config: Pick<TopicCatalogEnv, 'TOPIC_REPLICATION_FACTOR' | 'TOPIC_MIN_INSYNC_REPLICAS'>,
  ctx: z.RefinementCtx,
): void {
  const problem = minInsyncProblem(config);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['TOPIC_MIN_INSYNC_REPLICAS'], message: problem });
}

/** A dedup window the changelog's retention would cut short stops the start (FULFILLMENT_DEDUP_WINDOW_S, ACK_DEDUP_WINDOW_S). */
export function checkDedupRetention(windowVariable: string, windowS: number, config: Pick<TopicCatalogEnv, 'TOPIC_DEDUP_RETENTION_MS'>, ctx: z.RefinementCtx): void {
  if (windowS * 1_000 <= config.TOPIC_DEDUP_RETENTION_MS) return;
  ctx.addIssue({ code: 'custom', path: [windowVariable], message: `expected at most TOPIC_DEDUP_RETENTION_MS (${config.TOPIC_DEDUP_RETENTION_MS} ms) in seconds, got ${windowS}` });
}

export function topicSettingsFromEnv(config: TopicCatalogEnv): TopicSettings {
  const problem = minInsyncProblem(config);
  if (problem !== undefined) throw new ConfigError(`TOPIC_MIN_INSYNC_REPLICAS: ${problem}`);
  const minInsyncReplicas = config.TOPIC_MIN_INSYNC_REPLICAS ?? defaultMinInsyncReplicas(config.TOPIC_REPLICATION_FACTOR);
  return {
    prefix: config.TOPIC_PREFIX,
    partitions: config.TOPIC_PARTITIONS,
    replicationFactor: config.TOPIC_REPLICATION_FACTOR,
    minInsyncReplicas,
    retentionMs: config.TOPIC_RETENTION_MS,
    dlqRetentionMs: config.TOPIC_DLQ_RETENTION_MS,
    ackBatchesRetentionMs: config.TOPIC_ACK_BATCHES_RETENTION_MS,
    dedupRetentionMs: config.TOPIC_DEDUP_RETENTION_MS,
    retryMaxAttempts: config.RETRY_MAX_ATTEMPTS,
  };
}

/** Every topic with partitions, replication and the topic-level configs it should carry. */
export function topicCatalog(settings: TopicSettings): CatalogTopic[] {
  const names = topicNames(settings.prefix);
  const topic = (name: string, role: TopicRole, retentionMs: number): CatalogTopic => ({
    topic: name,
    role,
    numPartitions: settings.partitions,
    replicationFactor: settings.replicationFactor,
    configEntries: [
      { name: 'cleanup.policy', value: 'delete' },
      { name: 'min.insync.replicas', value: String(settings.minInsyncReplicas) },
      { name: 'retention.ms', value: String(retentionMs) },
    ],
  });
  // Windowed state, as Kafka Streams keeps it: compaction keeps one record per key, whole segments
  // older than the retention are deleted (so no key outlives it), and segments roll often enough
  // for that deletion to happen.
  const changelog = (name: string, role: TopicRole): CatalogTopic => {
    const spec = topic(name, role, settings.dedupRetentionMs);
    const segmentMs = Math.max(60_000, Math.min(60 * 60 * 1_000, Math.floor(settings.dedupRetentionMs / 4)));
    spec.configEntries = [
      { name: 'cleanup.policy', value: 'compact,delete' },
      ...spec.configEntries.filter((e) => e.name !== 'cleanup.policy'),
      { name: 'segment.ms', value: String(segmentMs) },
    ];
    return spec;
  };
  const retryTiers = Array.from({ length: Math.max(0, settings.retryMaxAttempts - 1) }, (_, i) =>
    topic(names.retry(i + 1), 'retry', settings.retentionMs),
  );
  return [
    topic(names.callbacks, 'callbacks', settings.retentionMs),
    ...retryTiers,
    topic(names.results, 'results', settings.retentionMs),
    topic(names.dlq, 'dlq', settings.dlqRetentionMs),
    topic(names.ackBatches, 'ackBatches', settings.ackBatchesRetentionMs),
    changelog(names.fulfillmentDedup, 'fulfillmentDedup'),
    changelog(names.acksDedup, 'acksDedup'),
  ];
}
