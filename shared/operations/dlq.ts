import { randomUUID } from 'node:crypto';
import { createTransactionalProducer, type Admin, type KafkaClient } from '../kafka.js';
import { decodeAny, type SchemaRegistryClient } from '../serde.js';
import { readTopicRange } from '../stage/topic-reader.js';
import type { TopicNames } from '../topics.js';
import {
  formatList,
  isFiltered,
  matches,
  newestFirst,
  summarize,
  viewOf,
  type DeadLetterRecord,
  type DeadLetterView,
  type DlqFilter,
} from './dlq-filter.js';
import {
  SKIP_EXPLANATION,
  decodeProgress,
  encodeProgress,
  planRedrive,
  redriveDecision,
  type PartitionProgress,
  type RedrivePlan,
  type SkipReason,
} from './dlq-redrive-plan.js';
import { ExitCode, println, table, type Out } from './output.js';
import { describeGroup } from './replay.js';

export interface DlqContext {
  kafka: KafkaClient;
  admin: Admin;
  topics: TopicNames;
  out: Out;
  /** The consumer group whose committed offsets record redrive progress. */
  redriveGroup: string;
  /** Needed by `show` to decode values. */
  registry?: SchemaRegistryClient;
  now?: () => number;
}

async function dlqOffsets(admin: Admin, topic: string): Promise<Map<number, { low: number; high: number }>> {
  const existing = new Set(await admin.listTopics());
  if (!existing.has(topic)) throw new Error(`the dead-letter topic ${topic} does not exist (run: topics ensure)`);
  const ends = await admin.fetchTopicOffsets(topic);
  return new Map(ends.map((e) => [e.partition, { low: Number(e.low), high: Number(e.high) }]));
}

const readerGroup = () => `cognigy-dlq-reader-${randomUUID()}`;

export interface ListResult {
  exitCode: number;
  /** Matching dead letters, newest first, at most `limit`. */
  shown: DeadLetterView[];
  matching: number;
  total: number;
}

/** Dead letters newest first, with why and where they came from. Reads only; commits nothing. */
export async function dlqList(ctx: DlqContext, opts: { filter: DlqFilter; limit: number; json?: boolean }): Promise<ListResult> {
  const now = (ctx.now ?? Date.now)();
  const offsets = await dlqOffsets(ctx.admin, ctx.topics.dlq);
  const from = new Map([...offsets].map(([p, o]) => [p, o.low]));
  if (opts.filter.since !== undefined) {
    // Skip what is older than --since without reading it.
    for (const { partition, offset } of await ctx.admin.fetchTopicOffsetsByTimestamp(ctx.topics.dlq, opts.filter.since)) {
      from.set(partition, Math.max(from.get(partition) ?? 0, Number(offset)));
    }
  }
  const to = new Map([...offsets].map(([p, o]) => [p, o.high]));
  const snapshot = await readTopicRange(ctx.kafka, { topic: ctx.topics.dlq, groupId: readerGroup(), from, to });
  await snapshot.close();

  const total = [...offsets.values()].reduce((sum, o) => sum + (o.high - o.low), 0);
  const matching = snapshot.records.filter((r) => matches(r, opts.filter)).sort(newestFirst);
  const shown = matching.slice(0, opts.limit).map((r) => viewOf(r, now));
  if (opts.json) {
    println(ctx.out, JSON.stringify({ total, matching: matching.length, shown }));
  } else {
    for (const line of formatList(shown)) println(ctx.out, line);
    println(ctx.out, `${shown.length} shown of ${matching.length} matching; about ${total} record(s) in ${ctx.topics.dlq}`);
    if (matching.length > 0) {
      println(ctx.out, 'by reason / error class:');
      for (const line of summarize(matching.map((r) => viewOf(r, now)))) println(ctx.out, line);
    }
  }
  return { exitCode: matching.length > 0 ? ExitCode.ok : ExitCode.nothingToDo, shown, matching: matching.length, total };
}

export interface ShowResult {
  exitCode: number;
  record?: DeadLetterRecord;
  view?: DeadLetterView;
  decoded?: unknown;
  decodeError?: string;
}

/** One dead letter: its headers and its value, decoded through the schema registry when it can be. */
export async function dlqShow(ctx: DlqContext, opts: { partition: number; offset: number; json?: boolean }): Promise<ShowResult> {
  const offsets = await dlqOffsets(ctx.admin, ctx.topics.dlq);
  const range = offsets.get(opts.partition);
  if (!range || opts.offset < range.low || opts.offset >= range.high) {
    const holds = range ? `offsets ${range.low}..${range.high - 1}` : `no partition ${opts.partition}`;
    println(ctx.out, `no dead letter at ${opts.partition}:${opts.offset} (${ctx.topics.dlq} has ${holds})`);
    return { exitCode: ExitCode.nothingToDo };
  }
  const from = new Map([...offsets].map(([p, o]) => [p, p === opts.partition ? opts.offset : o.high]));
  const to = new Map([...offsets].map(([p, o]) => [p, p === opts.partition ? opts.offset + 1 : o.high]));
  const snapshot = await readTopicRange(ctx.kafka, { topic: ctx.topics.dlq, groupId: readerGroup(), from, to });
  await snapshot.close();
  const record = snapshot.records[0];
  if (!record) {
    println(ctx.out, `no dead letter at ${opts.partition}:${opts.offset} (a transaction marker or an aborted write)`);
    return { exitCode: ExitCode.nothingToDo };
  }
  const view = viewOf(record, (ctx.now ?? Date.now)());
  let decoded: unknown;
  let decodeError: string | undefined;
  if (record.value === null) decodeError = 'no value';
  else if (!ctx.registry) decodeError = 'no schema registry configured';
  else {
    try {
      decoded = await decodeAny(ctx.registry, record.value);
    } catch (error) {
      decodeError = error instanceof Error ? error.message : String(error);
    }
  }
  if (opts.json) {
    println(ctx.out, JSON.stringify({ view, headers: record.headers, value: decoded, decodeError }, bytesAsText));
  } else {
    println(ctx.out, `${ctx.topics.dlq} ${record.partition}:${record.offset}, dead-lettered ${view.deadLetteredAt}, key ${view.key ?? '(none)'}`);
    println(ctx.out, 'headers:');
    for (const line of table(Object.entries(record.headers).map(([k, v]) => [`  ${k}`, v]))) println(ctx.out, line);
    if (decodeError === undefined) {
      println(ctx.out, 'value:');
      println(ctx.out, JSON.stringify(decoded, bytesAsText, 2));
    } else {
      println(ctx.out, `value (${record.value?.length ?? 0} bytes) not decoded: ${decodeError}`);
      if (record.value) println(ctx.out, record.value.toString('utf8'));
    }
  }
  return { exitCode: ExitCode.ok, record, view, decoded, decodeError };
}

/** Bytes fields (rawBody) print as the text they carry. */
function bytesAsText(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('utf8');
  }
  return value;
}

export interface RedriveResult {
  exitCode: number;
  outcome: 'refused' | 'nothing-to-do' | 'planned' | 'applied';
  moved: number;
  plan?: RedrivePlan;
}

/**
 * Sends dead letters back through the first retry tier of their stage, original bytes and key
 * unchanged, with a `redriven-from` header. The moved records and the progress commit go in one
 * Kafka transaction, so a crash in between neither loses nor repeats a redrive.
 */
export async function dlqRedrive(ctx: DlqContext, opts: { filter: DlqFilter; execute: boolean; json?: boolean }): Promise<RedriveResult> {
  const now = (ctx.now ?? Date.now)();
  const say = (line: string) => {
    if (!opts.json) println(ctx.out, line);
  };
  const group = await describeGroup(ctx.admin, ctx.redriveGroup);
  if (group.members > 0) {
    say(`refused: another redrive is running (group ${ctx.redriveGroup} has ${group.members} member(s)); wait for it to finish`);
    return finish(ctx, opts, { exitCode: ExitCode.refused, outcome: 'refused', moved: 0 });
  }
  const offsets = await dlqOffsets(ctx.admin, ctx.topics.dlq);
  const committed = await ctx.admin.fetchOffsets({ groupId: ctx.redriveGroup, topics: [ctx.topics.dlq] });
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p]));
  const progress = new Map<number, PartitionProgress>();
  for (const [partition, { low }] of offsets) {
    const c = byPartition.get(partition);
    const offset = c ? Number(c.offset) : -1;
    progress.set(partition, decodeProgress(offset < 0 ? null : offset, c?.metadata ?? null, low));
  }
  const from = new Map([...progress].map(([p, pr]) => [p, pr.next]));
  const high = new Map([...offsets].map(([p, o]) => [p, o.high]));

  // Reading as the redrive group makes a concurrent redrive see a member and refuse.
  const snapshot = await readTopicRange(ctx.kafka, { topic: ctx.topics.dlq, groupId: ctx.redriveGroup, from, to: high });
  try {
    const plan = planRedrive({
      records: snapshot.records,
      progress,
      high,
      filter: opts.filter,
      decide: (record) => redriveDecision(record, ctx.topics.dlq, ctx.topics, now),
    });
    describePlan(say, ctx, opts, plan);
    if (plan.moves.length === 0 && plan.changed.length === 0) {
      say('nothing to redrive');
      return finish(ctx, opts, { exitCode: ExitCode.nothingToDo, outcome: 'nothing-to-do', moved: 0, plan });
    }
    if (!opts.execute) {
      say('dry run: nothing moved; add --execute to redrive');
      const outcome = plan.moves.length === 0 ? 'nothing-to-do' : 'planned';
      return finish(ctx, opts, { exitCode: plan.moves.length === 0 ? ExitCode.nothingToDo : ExitCode.ok, outcome, moved: 0, plan });
    }
    await applyRedrive(ctx, plan);
    say(`moved ${plan.moves.length} dead letter(s) to ${ctx.topics.retry(1)}`);
    const exitCode = plan.moves.length === 0 ? ExitCode.nothingToDo : ExitCode.ok;
    return finish(ctx, opts, { exitCode, outcome: plan.moves.length === 0 ? 'nothing-to-do' : 'applied', moved: plan.moves.length, plan });
  } finally {
    await snapshot.close();
  }
}

function finish(ctx: DlqContext, opts: { json?: boolean }, result: RedriveResult): RedriveResult {
  if (opts.json) {
    const { plan } = result;
    println(
      ctx.out,
      JSON.stringify({
        outcome: result.outcome,
        moved: result.moved,
        selected: plan?.moves.length ?? 0,
        skipped: plan?.skipped,
        alreadyRedriven: plan?.alreadyRedriven,
        notSelected: plan?.notSelected,
        deferred: plan?.deferred,
      }),
    );
  }
  return result;
}

function describePlan(say: (line: string) => void, ctx: DlqContext, opts: { filter: DlqFilter; execute: boolean }, plan: RedrivePlan): void {
  say(`redrive from ${ctx.topics.dlq} to ${ctx.topics.retry(1)} (progress in group ${ctx.redriveGroup})${isFiltered(opts.filter) ? ', filtered' : ''}`);
  const preview = plan.moves.slice(0, 20).map((m) => [`${m.record.partition}:${m.record.offset}`, m.record.headers['dlq-reason'] ?? '-', m.headers['event-id'] ?? '-']);
  if (preview.length > 0) {
    for (const line of table([['dead letter', 'reason', 'event id'], ...preview])) say(`  ${line}`);
    if (plan.moves.length > preview.length) say(`  ... and ${plan.moves.length - preview.length} more`);
  }
  say(`${opts.execute ? 'moving' : 'would move'} ${plan.moves.length}; already redriven ${plan.alreadyRedriven}; not selected by the filter ${plan.notSelected}`);
  for (const [why, count] of Object.entries(plan.skipped) as [SkipReason, number][]) {
    if (count > 0) say(`skipped ${count}: ${SKIP_EXPLANATION[why]}`);
  }
  if (plan.deferred > 0) say(`deferred ${plan.deferred}: the progress record of their partition is full; run again after an unfiltered redrive`);
}

async function applyRedrive(ctx: DlqContext, plan: RedrivePlan): Promise<void> {
  const target = ctx.topics.retry(1);
  if (plan.moves.length > 0 && !(await ctx.admin.listTopics()).includes(target)) {
    throw new Error(`the first retry tier ${target} does not exist (run: topics ensure)`);
  }
  // A fixed transactional id fences a stale redrive process that is still writing.
  const producer = createTransactionalProducer(ctx.kafka, `${ctx.redriveGroup}-producer`);
  await producer.connect();
  try {
    const transaction = await producer.transaction();
    try {
      for (let i = 0; i < plan.moves.length; i += 500) {
        await transaction.send({
          topic: target,
          messages: plan.moves.slice(i, i + 500).map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
        });
      }
      const partitions = plan.changed.map((partition) => {
        const { offset, metadata } = encodeProgress(plan.progress.get(partition) as PartitionProgress);
        return { partition, offset, metadata };
      });
      if (partitions.length > 0) {
        await transaction.sendOffsets({ consumerGroupId: ctx.redriveGroup, topics: [{ topic: ctx.topics.dlq, partitions }] });
      }
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  } finally {
    await producer.disconnect();
  }
}
