import { randomUUID } from 'node:crypto';
import { createIdempotentProducer, type Admin, type KafkaClient } from '../kafka.js';
import { resetMarkerRecord } from '../stage/dedup-store.js';
import { byTopic } from '../stage/records.js';
import { fulfillmentInputs, type TopicNames } from '../topics.js';
import { println, type Out } from './output.js';
import {
  REPLAY_EXIT,
  decideReplay,
  formatPlan,
  planReplay,
  type PartitionOffsets,
  type ReplayOutcome,
  type ReplayPlan,
  type ReplayTargetSpec,
} from './replay-plan.js';
import { UsageError } from './time-spec.js';

export interface ReplayOptions {
  group: string;
  topic: string;
  target: ReplayTargetSpec;
  execute: boolean;
  json?: boolean;
  /** What the replay does to the durable dedup state of the group (dedupEffect). */
  dedup?: DedupEffect;
}

/**
 * Replays and the dedup stores: a replay is a deliberate re-run, so
 * - replaying fulfillment (the callbacks topic or a retry tier) resets the fulfillment dedup state
 *   of the replayed partitions: the callbacks are answered again, and their new results carry a
 *   `replay-id`, which the ack aggregator's dedup key includes, so Cognigy is told the corrected
 *   result once more (once per replay);
 * - replaying the aggregator (the results topic) re-sends nothing Cognigy acknowledged within
 *   ACK_DEDUP_WINDOW_S: replay fulfillment to send corrected results.
 */
export type DedupEffect =
  | { kind: 'reset'; changelog: string; kafka: KafkaClient }
  | { kind: 'kept'; window: string };

/** What replaying `topic` does to the dedup state (see DedupEffect). */
export function dedupEffectOf(topic: string, topics: TopicNames, retryMaxAttempts: number, kafka: KafkaClient): DedupEffect | undefined {
  if (fulfillmentInputs(topics, retryMaxAttempts).includes(topic)) return { kind: 'reset', changelog: topics.fulfillmentDedup, kafka };
  if (topic === topics.results) return { kind: 'kept', window: 'ACK_DEDUP_WINDOW_S (600 s by default)' };
  return undefined;
}

export interface ReplayDedupReset {
  replayId: string;
  changelog: string;
  partitions: number[];
}

export interface ReplayResult {
  outcome: ReplayOutcome;
  exitCode: number;
  plan: ReplayPlan;
  groupState: string;
  activeMembers: number;
  /** Set when the replay reset the dedup state (`--execute` on fulfillment's inputs). */
  dedupReset?: ReplayDedupReset;
}

/**
 * Resets a consumer group's committed offsets on one topic so it processes records again (or
 * skips them). Only while the group is idle: running members would keep committing their own
 * positions over the new ones, and the broker refuses the commit anyway.
 */
export async function replay(admin: Admin, options: ReplayOptions, out: Out): Promise<ReplayResult> {
  const partitions = await readPartitionOffsets(admin, options.group, options.topic);
  const targets = await resolveTargets(admin, options.topic, options.target);
  const plan = planReplay(partitions, targets);
  const group = await describeGroup(admin, options.group);
  const decision = decideReplay(plan, group.members, options.execute);

  let dedupReset: ReplayDedupReset | undefined;
  const finish = (outcome: ReplayOutcome): ReplayResult => {
    const result = { outcome, exitCode: REPLAY_EXIT[outcome], plan, groupState: group.state, activeMembers: group.members, ...(dedupReset ? { dedupReset } : {}) };
    if (options.json) println(out, JSON.stringify(result));
    return result;
  };

  if (!options.json) {
    println(out, `replay of group ${options.group} on ${options.topic} to ${describeTarget(options.target)}`);
    println(out, `group state: ${group.state}, ${group.members} active member(s)`);
    for (const line of formatPlan(plan)) println(out, `  ${line}`);
    println(
      out,
      `${plan.changes.length} partition(s) change: ${plan.totalReprocess} record(s) to process again, ${plan.totalSkip} record(s) skipped`,
    );
    const dedupLine = describeDedup(options.dedup);
    if (dedupLine !== undefined) println(out, dedupLine);
  }

  if (decision === 'refused') {
    if (!options.json) {
      println(
        out,
        `refused: group ${options.group} has ${group.members} active member(s) (${group.state}); stop every instance of it, then run this again`,
      );
    }
    return finish('refused');
  }
  if (decision === 'nothing-to-do') {
    if (!options.json) println(out, 'nothing to do: the group is already at the target on every partition');
    return finish('nothing-to-do');
  }
  if (decision === 'planned') {
    if (!options.json) println(out, 'dry run: nothing changed; add --execute to apply this plan');
    return finish('planned');
  }

  if (options.dedup?.kind === 'reset') {
    // Before the offsets move: a group that starts in between must not take the replayed callbacks for repeats.
    dedupReset = await resetDedup(options.dedup, options.topic, plan);
    if (!options.json) println(out, `dedup state reset on ${dedupReset.changelog} partition(s) ${dedupReset.partitions.join(', ')}: replay id ${dedupReset.replayId}`);
  }
  try {
    await admin.setOffsets({
      groupId: options.group,
      topic: options.topic,
      partitions: plan.changes.map((p) => ({ partition: p.partition, offset: String(p.target) })),
    });
  } catch (error) {
    // A member joined between the check and the commit.
    if (error instanceof Error && /no running instances/i.test(error.message)) {
      if (!options.json) println(out, `refused: group ${options.group} became active while applying; nothing changed`);
      return finish('refused');
    }
    throw error;
  }
  const after = await readPartitionOffsets(admin, options.group, options.topic);
  const wrong = plan.changes.filter((p) => after.find((a) => a.partition === p.partition)?.committed !== p.target);
  if (wrong.length > 0) {
    throw new Error(`offsets not applied on partition(s) ${wrong.map((p) => p.partition).join(', ')}; run again to see the state`);
  }
  if (!options.json) println(out, `applied: group ${options.group} resumes from the target offsets when it starts`);
  return finish('applied');
}

function describeDedup(effect: DedupEffect | undefined): string | undefined {
  if (effect?.kind === 'reset') {
    return 'dedup: replayed callbacks are answered again (their dedup state is reset) and their new results carry a replay-id, so Cognigy is acknowledged the corrected result once more';
  }
  if (effect?.kind === 'kept') {
    return `dedup: results Cognigy acknowledged within ${effect.window} are not acknowledged again; replay fulfillment's group on the callbacks topic to send corrected results`;
  }
  return undefined;
}

/** One reset marker per replayed partition on the changelog, saying up to where records are replayed. */
async function resetDedup(effect: Extract<DedupEffect, { kind: 'reset' }>, topic: string, plan: ReplayPlan): Promise<ReplayDedupReset> {
  const replayId = `replay-${new Date().toISOString()}-${randomUUID().slice(0, 8)}`;
  const records = plan.changes.map((p) =>
    resetMarkerRecord(effect.changelog, p.partition, { replayId, replayedBelow: { [topic]: p.current ?? p.high } }),
  );
  const producer = createIdempotentProducer(effect.kafka, { retry: { retries: 5 } });
  await producer.connect();
  try {
    await producer.sendBatch({ topicMessages: byTopic(records), acks: -1 });
  } finally {
    await producer.disconnect();
  }
  return { replayId, changelog: effect.changelog, partitions: plan.changes.map((p) => p.partition) };
}

export function describeTarget(target: ReplayTargetSpec): string {
  if (target.kind === 'datetime') return target.label;
  if (target.kind === 'earliest') return 'the earliest retained offsets';
  return [...target.offsets].map(([p, o]) => `${p}:${o}`).join(', ');
}

export async function readPartitionOffsets(admin: Admin, groupId: string, topic: string): Promise<PartitionOffsets[]> {
  const existing = new Set(await admin.listTopics());
  if (!existing.has(topic)) throw new UsageError(`topic ${topic} does not exist`);
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return ends.map((end) => {
    const offset = byPartition.get(end.partition) ?? -1;
    return { partition: end.partition, committed: offset < 0 ? null : offset, low: Number(end.low), high: Number(end.high) };
  });
}

async function resolveTargets(admin: Admin, topic: string, target: ReplayTargetSpec): Promise<Map<number, number> | 'earliest'> {
  if (target.kind === 'earliest') return 'earliest';
  if (target.kind === 'offsets') return target.offsets;
  // The first offset whose record timestamp is at or after the time; the end of the log where none is.
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, target.at);
  return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
}

export async function describeGroup(admin: Admin, groupId: string): Promise<{ state: string; members: number }> {
  const { groups } = await admin.describeGroups([groupId]);
  const group = groups.find((g) => g.groupId === groupId);
  return { state: group?.state ?? 'Dead', members: group?.members.length ?? 0 };
}
