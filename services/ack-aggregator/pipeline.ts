import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { AckBatch } from '../../shared/contracts.js';
import { errorMessage } from '../../shared/errors.js';
import type { Consumer, EachBatchPayload, Producer } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { TopicSerde } from '../../shared/serde.js';
import { toAck } from './ack-items.js';
import type { BackoffSettings } from './backoff.js';
import { BatchOutcomes, type Plan } from './batch-outcomes.js';
import { ackRequest, planBatches, planRecord, type BatchLimits, type PendingAck } from './batching.js';
import type { CognigyClient } from './cognigy-client.js';
import { OffsetCommitter } from './commits.js';
import type { SourceRecord } from './dead-letter.js';
import { ResultDecoder, toSource } from './decoding.js';
import { DurableWriter, untilDone } from './durable-writes.js';
import { BatchRejected, SubmissionAborted } from './errors.js';
import { whileHeartbeating } from './heartbeat.js';
import type { AckMetrics } from './metrics.js';
import { PlanJournal } from './plan-journal.js';
import { submitBatch, type Submitted } from './submitter.js';
import { Wakeups } from './wakeups.js';

export interface PipelineSettings {
  groupId: string;
  resultsTopic: string;
  dlqTopic: string;
  batchesTopic: string;
  limits: BatchLimits;
  maxPending: number;
  maxConcurrentBatches: number;
  planLookbackMs: number;
  backoff: BackoffSettings;
}

export interface PipelineDeps {
  consumer: Consumer;
  producer: Producer;
  registry: SchemaRegistry;
  resultSerde: TopicSerde<'FulfillmentResult'>;
  batchSerde: TopicSerde<'AckBatch'>;
  /** This group's batch records written since the given time (the batches topic read back). */
  readBatchRecords: (sinceMs: number) => Promise<AckBatch[]>;
  client: CognigyClient;
  metrics: AckMetrics;
  logger: Logger;
}

/**
 * The imperative shell around the pure decisions (toAck, planBatches, batchIdentity,
 * classifyAckResponse, OffsetProgress): results in, windows closed into planned batches, each
 * plan recorded on the batches topic before it is sent, offsets committed after Cognigy took it.
 *
 * How a batch keeps its identity across a crash: its boundaries are not recomputed. Every plan is
 * written (with its items) before it is submitted; a restarted or rebalanced aggregator reads the
 * plans written since the oldest uncommitted result back, and a delivered result inside a known
 * plan belongs to that plan and no other. So the same records go out as the same batch with the
 * same Idempotency-Key, and Cognigy answers 409 for a batch it already applied.
 *
 * Why not boundaries derived from offsets alone (fixed-size chunks per partition)? They need no
 * read-back, but a window's end is a time, not an offset, and batches could no longer span
 * partitions: a quiet system with six partitions would send six small batches where one does.
 * The plan carries its items, so any member that now owns one of its partitions can resend it
 * whole, even when a rebalance split the plan's partitions between members.
 *
 * This class schedules: windows, the submission queue, the journal per generation. What a batch's
 * outcome does is in BatchOutcomes, offset commits in OffsetCommitter, decoding in ResultDecoder.
 */
export class AckPipeline {
  private pending: PendingAck<SourceRecord>[] = [];
  private readonly journal = new PlanJournal<SourceRecord>();
  /** Changes at every rebalance; work started under an older generation is discarded. */
  private generation = 0;
  private journalLoaded: { generation: number; sinceMs: number } | undefined;
  private windowTimer: NodeJS.Timeout | undefined;
  private readonly queue: Plan[] = [];
  private active = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  /** Woken when a batch finishes, at a rebalance and at stop: what a waiter for capacity waits on. */
  private readonly wakeups = new Wakeups();
  private readonly commits: OffsetCommitter;
  private readonly writer: DurableWriter;
  private readonly outcomes: BatchOutcomes;
  private readonly decoder: ResultDecoder;

  constructor(
    private readonly settings: PipelineSettings,
    private readonly deps: PipelineDeps,
  ) {
    const retrying = untilDone(this.abort.signal);
    this.commits = new OffsetCommitter(deps, () => this.stopping);
    this.writer = new DurableWriter(deps.producer, deps.batchSerde, { topic: settings.batchesTopic, groupId: settings.groupId }, retrying);
    this.outcomes = new BatchOutcomes({
      journal: this.journal,
      writer: this.writer,
      commits: this.commits,
      metrics: deps.metrics,
      logger: deps.logger,
      dlqTopic: settings.dlqTopic,
    });
    this.decoder = new ResultDecoder(deps.registry, deps.resultSerde, retrying);
  }

  /** Results delivered and not finished (acknowledged or dead-lettered). */
  get outstanding(): number {
    return this.commits.progress.outstanding;
  }

  /**
   * A rebalance (or the first join): offsets go back to the last commit, so the open window is
   * dropped (its records come again) along with plans not yet recorded; plans being submitted carry
   * on, and the journal is read again before the new assignment's first records are used.
   */
  onRebalance = (): void => {
    this.generation += 1;
    this.pending = [];
    this.armWindowTimer(null);
    this.commits.reset();
    this.journalLoaded = undefined;
    this.journal.prune((state: Plan) => {
      state.waiting = [];
      if (state.own && !state.recorded && !state.recording) return false;
      return state.submitting;
    });
    this.wakeups.notify();
  };

  /** kafkajs eachBatch: decode, map, dead-letter the invalid alone, window the rest. */
  handleBatch = async ({ batch, heartbeat }: EachBatchPayload): Promise<void> => {
    const generation = this.generation;
    const { topic, partition } = batch;
    const first = batch.messages[0];
    if (this.stopping || first === undefined) return;

    await whileHeartbeating(heartbeat, this.ensureJournal(generation, Number(first.timestamp) - this.settings.planLookbackMs));
    if (generation !== this.generation || this.stopping) return;
    const sources = batch.messages.map((m) => toSource(topic, partition, m));
    this.commits.progress.track(topic, partition, sources.map((s) => s.offset), Number(batch.lastOffset()));

    const decoded = await whileHeartbeating(heartbeat, this.decoder.decodeAll(sources));
    if (generation !== this.generation) return;
    const now = Date.now();
    const valid: PendingAck<SourceRecord>[] = [];
    const invalid: { source: SourceRecord; reason: string }[] = [];
    for (const { source, result, invalid: why } of decoded) {
      const plan = this.journal.covering(topic, partition, source.offset);
      if (plan !== undefined) {
        this.attach(plan, source);
        continue;
      }
      const mapping = result === undefined ? { ok: false as const, reason: why ?? 'undecodable' } : toAck(result);
      if (mapping.ok) valid.push({ topic, partition, offset: source.offset, arrivedAt: now, item: mapping.item, source });
      else invalid.push({ source, reason: mapping.reason });
    }
    // Dead-lettered before any later record can join a plan, so a plan's ranges never cover a
    // record that is neither in the batch nor in the DLQ.
    if (invalid.length > 0) await whileHeartbeating(heartbeat, this.outcomes.deadLetterInvalid(invalid));
    if (generation !== this.generation || this.stopping) return;
    this.pending.push(...valid);
    this.closeWindows(false);

    while (!this.stopping && generation === this.generation && this.commits.progress.outstanding >= this.settings.maxPending) {
      await this.wakeups.next(1_000);
      await heartbeat();
    }
  };

  /** Stops taking results, flushes the open window and waits (up to `deadlineMs`) for the batches to be taken. */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.closeWindows(true);
    this.wakeups.notify();
    const deadline = Date.now() + deadlineMs;
    while ((this.active > 0 || this.queue.length > 0) && Date.now() < deadline) await this.wakeups.next(Math.min(250, deadline - Date.now()));
    this.abort.abort();
    this.armWindowTimer(null);
    await this.commits.flush();
    if (this.active > 0 || this.queue.length > 0) {
      this.deps.logger.warn({ batches: this.active + this.queue.length }, 'stopped with batches not yet taken by Cognigy; they are resent with the same key at the next start');
    }
  }

  private closeWindows(flush: boolean): void {
    const decision = planBatches(this.pending, this.settings.limits, Date.now(), flush);
    this.pending = decision.rest;
    for (const entries of decision.batches) {
      const state: Plan = this.journal.add(planRecord(entries, new Date()), true);
      state.waiting.push(...entries.map((e) => e.source));
      this.enqueue(state);
    }
    this.armWindowTimer(this.stopping ? null : decision.closesAt);
  }

  private armWindowTimer(closesAt: number | null): void {
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    if (closesAt === null) return;
    this.windowTimer = setTimeout(() => this.closeWindows(false), Math.max(0, closesAt - Date.now()));
  }

  /** A delivered record that an already known plan accounts for. */
  private attach(state: Plan, source: SourceRecord): void {
    if (state.outcome === 'ACCEPTED') {
      this.commits.progress.done(source.topic, source.partition, source.offset);
      this.commits.commitSoon();
      return;
    }
    state.waiting.push(source);
    if (state.outcome === 'DEAD_LETTERED') void this.settle(state);
    else if (!state.submitting) this.enqueue(state);
  }

  private enqueue(state: Plan): void {
    state.submitting = true;
    this.queue.push(state);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.settings.maxConcurrentBatches && this.queue.length > 0) {
      const state = this.queue.shift() as Plan;
      this.active += 1;
      void this.submit(state).finally(() => {
        this.active -= 1;
        this.wakeups.notify();
        this.pump();
      });
    }
  }

  /** Record the plan, send it until Cognigy takes it, record the outcome, then let the offsets go. */
  private async submit(state: Plan): Promise<void> {
    const { plan } = state;
    const log = this.deps.logger.child({ batchId: plan.batchId, idempotencyKey: plan.idempotencyKey });
    try {
      if (state.own && !state.recorded) {
        if (!this.journalHas(state)) return; // dropped by a rebalance before it was recorded
        state.recording = true;
        await this.writer.writeBatchRecord(plan);
        state.recorded = true;
      }
      const started = performance.now();
      let submitted: Submitted;
      try {
        submitted = await submitBatch(this.deps.client, ackRequest(plan), this.settings.backoff, this.abort.signal, {
          onRetry: (error, delayMs, attempt) => this.outcomes.retrying(log, plan, error, delayMs, attempt),
        });
      } catch (error) {
        if (!(error instanceof BatchRejected)) throw error;
        await this.outcomes.rejected(state, error, (performance.now() - started) / 1_000, log);
        await this.settle(state);
        return;
      }
      await this.outcomes.accepted(state, submitted, (performance.now() - started) / 1_000, log);
      await this.settle(state);
    } catch (error) {
      state.submitting = false;
      if (error instanceof SubmissionAborted || this.stopping) return;
      // Only Kafka write failures past their retries get here; the batch is tried again from its plan.
      log.error({ err: errorMessage(error) }, 'batch submission failed; retrying');
      setTimeout(() => {
        if (!state.submitting && state.outcome === null && this.journalHas(state)) this.enqueue(state);
      }, 1_000).unref();
    }
  }

  /** Finishes the records a resolved plan accounts for and lets their offsets be committed. */
  private async settle(state: Plan): Promise<void> {
    if (state.outcome === 'DEAD_LETTERED') await this.outcomes.deadLetterPlanRecords(state);
    const records = state.waiting.splice(0);
    for (const r of records) this.commits.progress.done(r.topic, r.partition, r.offset);
    this.prune();
    this.commits.commitSoon();
    this.wakeups.notify();
  }

  /**
   * A resolved plan is kept until all its records were delivered in this generation (later
   * deliveries only happen in a new generation, which reads the journal again).
   */
  private prune(): void {
    const progress = this.commits.progress;
    this.journal.prune((state: Plan) => {
      if (state.outcome === null) return true;
      if (state.waiting.length > 0) return true;
      return state.plan.items.some((range) => {
        const delivered = progress.safeOffset(range.topic, range.partition);
        return delivered === undefined || delivered <= range.toOffset;
      });
    });
  }

  /** Makes sure every plan that may cover records from `sinceMs` on is known in this generation. */
  private async ensureJournal(generation: number, sinceMs: number): Promise<void> {
    const loaded = this.journalLoaded;
    if (loaded !== undefined && loaded.generation === generation && sinceMs >= loaded.sinceMs) return;
    const records = await this.deps.readBatchRecords(sinceMs);
    if (generation !== this.generation) return;
    this.journal.merge(records);
    this.journalLoaded = { generation, sinceMs: loaded?.generation === generation ? Math.min(loaded.sinceMs, sinceMs) : sinceMs };
    const known = records.filter((r) => r.phase === 'PLANNED').length;
    if (known > 0) this.deps.logger.info({ plans: known, sinceMs }, 'batch plans read back');
  }

  private journalHas(state: Plan): boolean {
    for (const s of this.journal.states()) if (s === state) return true;
    return false;
  }
}
