/**
 * The console's reads and actions on Kafka, through the same operations code as the CLI
 * (shared/operations): a redrive here is `dlq redrive`, a replay is `replay`.
 */
import type { Admin, KafkaClient } from '../../shared/kafka.js';
import { dlqRedrive, type DlqContext } from '../../shared/operations/dlq.js';
import type { DeadLetterRecord, DlqFilter } from '../../shared/operations/dlq-filter.js';
import { decodeProgress, type PartitionProgress } from '../../shared/operations/dlq-redrive-plan.js';
import { captureOut } from '../../shared/operations/output.js';
import { dedupEffectOf, describeTarget, replay } from '../../shared/operations/replay.js';
import type { ReplayTargetSpec } from '../../shared/operations/replay-plan.js';
import { decodeAny, type SchemaRegistryClient } from '../../shared/serde.js';
import type { TopicNames } from '../../shared/topics.js';
import type { RedriveView, ReplayView } from './views.js';

export interface ConsoleOperationsSettings {
  kafka: KafkaClient;
  admin: Admin;
  registry: SchemaRegistryClient;
  topics: TopicNames;
  redriveGroup: string;
  retryMaxAttempts: number;
}

/**
 * How long the redrive progress read from Kafka is used for: every dead-letter page asks for it,
 * and one offset fetch per second serves any number of them. A redrive from the console reads it
 * afresh at once; one from the CLI shows within this time.
 */
const PROGRESS_FRESH_MS = 1_000;

export class ConsoleOperations {
  private progress: { at: number; value: Promise<Map<number, PartitionProgress>> } | undefined;

  constructor(private readonly s: ConsoleOperationsSettings) {}

  /** The redrive group's progress per DLQ partition: what `dlq redrive` settled so far. */
  redriveProgress(): Promise<Map<number, PartitionProgress>> {
    const now = Date.now();
    if (this.progress === undefined || now - this.progress.at > PROGRESS_FRESH_MS) {
      const value = this.readProgress();
      this.progress = { at: now, value };
      // A failed read is not kept: the next page asks Kafka again.
      value.catch(() => {
        if (this.progress?.value === value) this.progress = undefined;
      });
    }
    return this.progress.value;
  }

  private async readProgress(): Promise<Map<number, PartitionProgress>> {
    const committed = await this.s.admin.fetchOffsets({ groupId: this.s.redriveGroup, topics: [this.s.topics.dlq] });
    const progress = new Map<number, PartitionProgress>();
    for (const p of committed[0]?.partitions ?? []) {
      const offset = Number(p.offset);
      if (offset >= 0) progress.set(p.partition, decodeProgress(offset, p.metadata ?? null, 0));
    }
    return progress;
  }

  async redrive(filter: DlqFilter, execute: boolean): Promise<RedriveView> {
    const ctx: DlqContext = { kafka: this.s.kafka, admin: this.s.admin, topics: this.s.topics, out: captureOut(), redriveGroup: this.s.redriveGroup };
    const result = await dlqRedrive(ctx, { filter, execute });
    if (execute) this.progress = undefined;
    const plan = result.plan;
    const view = {
      outcome: result.outcome,
      selected: plan?.moves.length ?? 0,
      moved: result.moved,
      alreadyRedriven: plan?.alreadyRedriven ?? 0,
      notSelected: plan?.notSelected ?? 0,
      skipped: { ...(plan?.skipped ?? {}) },
      deferred: plan?.deferred ?? 0,
    };
    const target = this.s.topics.retry(1);
    const message = {
      refused: `refused: another redrive is running (group ${this.s.redriveGroup} has members); try again when it finished`,
      'nothing-to-do': 'nothing to redrive: no dead letter of this choice waits to be redriven (what was redriven before shows as redriven)',
      planned: `${view.selected} dead letter(s) would go back through ${target}`,
      applied: `moved ${view.moved} dead letter(s) to ${target}`,
    }[result.outcome];
    return { ...view, message };
  }

  async replay(scope: { group: string; topic: string }, target: ReplayTargetSpec, execute: boolean): Promise<ReplayView> {
    const dedup = dedupEffectOf(scope.topic, this.s.topics, this.s.retryMaxAttempts, this.s.kafka);
    const result = await replay(this.s.admin, { ...scope, target, execute, dedup }, captureOut());
    const { plan } = result;
    const message = {
      refused: `refused: group ${scope.group} has ${result.activeMembers} active member(s) (${result.groupState}); stop every instance of it first`,
      'nothing-to-do': 'nothing to do: the group is already at the target on every partition',
      planned: `dry run: ${plan.totalReprocess} record(s) to process again, ${plan.totalSkip} skipped on ${plan.changes.length} partition(s)`,
      applied: `applied: group ${scope.group} resumes from the target offsets when it starts`,
    }[result.outcome];
    return {
      ...scope,
      target: describeTarget(target),
      groupState: result.groupState,
      activeMembers: result.activeMembers,
      outcome: result.outcome,
      partitions: plan.partitions.map((p) => ({
        partition: p.partition,
        current: p.current,
        target: p.target,
        reprocess: p.change ? p.reprocess : 0,
        skip: p.change ? p.skip : 0,
        lagNow: p.lagNow,
        lagAfter: p.change ? p.lagAfter : (p.lagNow ?? p.lagAfter),
        change: p.change,
        note: p.note ?? null,
      })),
      totalReprocess: plan.totalReprocess,
      totalSkip: plan.totalSkip,
      message,
    };
  }

  /** The value through the registry and, for a callback, the body Cognigy sent. */
  async decode(record: DeadLetterRecord): Promise<{ value: unknown; decodeError: string | null; body: unknown }> {
    if (record.value === null) return { value: null, decodeError: 'no value', body: null };
    try {
      const value = await decodeAny(this.s.registry, record.value);
      const raw = (value as { rawBody?: unknown }).rawBody;
      const body = Buffer.isBuffer(raw) ? parseBody(raw.toString('utf8')) : null;
      return { value: Buffer.isBuffer(raw) ? { ...(value as object), rawBody: raw.toString('utf8') } : value, decodeError: null, body };
    } catch (error) {
      return { value: record.value.toString('utf8'), decodeError: error instanceof Error ? error.message : String(error), body: null };
    }
  }
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
