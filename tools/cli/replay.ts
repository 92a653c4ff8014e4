import type { Admin } from '../../shared/kafka.js';
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
}

export interface ReplayResult {
  outcome: ReplayOutcome;
  exitCode: number;
  plan: ReplayPlan;
  groupState: string;
  activeMembers: number;
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

  const finish = (outcome: ReplayOutcome): ReplayResult => {
    const result = { outcome, exitCode: REPLAY_EXIT[outcome], plan, groupState: group.state, activeMembers: group.members };
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
