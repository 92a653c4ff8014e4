import type { AckBatch, FulfillmentResult } from '../../shared/contracts.js';
import { errorMessage } from '../../shared/errors.js';
import type { EachBatchPayload, Producer } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { DeadLetterNotifier } from '../../shared/stage/dead-letter-notifier.js';
import { REPLAY_HEADER, type DedupState } from '../../shared/stage/dedup-store.js';
import { Header } from '../../shared/headers.js';
import type { TopicSerde } from '../../shared/serde.js';
import { RegistryUnavailable, UndecodableRecord, type RecordDecoder } from '../../shared/stage/decoder.js';
import { OffsetCommitter, type TopicPartitionOffset } from '../../shared/stage/offsets.js';
import { byTopic, toConsumedRecord, type ConsumedRecord, type OutRecord } from '../../shared/stage/records.js';
import { toAck } from './ack-items.js';
import type { BackoffSettings } from '../../shared/cognigy/backoff.js';
import { BatchOutcomes, type Plan } from './batch-outcomes.js';
import { ackRequest, planBatches, planRecord, type BatchLimits, type PendingAck } from './batching.js';
import type { CognigyClient } from './cognigy-client.js';
import { DurableWriter, untilDone, type UntilDone } from './durable-writes.js';
import { BatchRejected, SubmissionAborted } from './errors.js';
import { whileHeartbeating } from './heartbeat.js';
import type { AckMetrics } from './metrics.js';
import { PlanJournal } from './plan-journal.js';
import { coveredRecord, planWriteStarted, planWritten, submissionFailed, survivesRebalance, take } from './plan-lifecycle.js';
import { submitBatch, type Submitted } from './submitter.js';
import { Wakeups } from './wakeups.js';

/** A delivered result, decoded, or the reason it cannot be (which dead-letters it). */
type Decoded = { source: ConsumedRecord; result?: FulfillmentResult; invalid?: string };

export interface PipelineSettings {
  groupId: string;
  dlqTopic: string;
  batchesTopic: string;
  limits: BatchLimits;
  maxPending: number;
  maxConcurrentBatches: number;
  planLookbackMs: number;
  backoff: BackoffSettings;
}

export interface PipelineDeps {
  commitOffsets: (offsets: TopicPartitionOffset[]) => Promise<void>;
  producer: Producer;
  results: RecordDecoder<'FulfillmentResult'>;
  batchSerde: TopicSerde<'AckBatch'>;
  /** This group's batch records written since the given time (the batches topic read back). */
  readBatchRecords: (sinceMs: number) => Promise<AckBatch[]>;
  client: CognigyClient;
  metrics: AckMetrics;
  logger: Logger;
  /** Told about every dead letter once it is written. */
  deadLetters: DeadLetterNotifier;
  /** Event ids acknowledged within ACK_DEDUP_WINDOW_S, durable in cognigy.acks.dedup.v1. */
  dedup: Pick<DedupState, 'seen' | 'hold' | 'confirm' | 'release'> & { restored(): Promise<void> };
}

/**
 * The imperative shell around the pure decisions (toAck, planBatches, batchIdentity,
 * classifyAckResponse, the plan lifecycle): results in, windows closed into planned batches, each
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
 * outcome does is in BatchOutcomes; offsets, decoding and dead-letter records are the stage kit's.
 */
export class AckPipeline {
  private pending: PendingAck<ConsumedRecord>[] = [];
  private readonly journal = new PlanJournal<ConsumedRecord>();
  /** Changes at every rebalance; work started under an older generation is discarded. */
  private generation = 0;
  private journalLoaded: { generation: number; sinceMs: number } | undefined;
  private dedupRestored = -1;
  /** Owns the dedup holds of results batched in this generation: released at the next rebalance. */
  private generationOwner = {};
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
  private readonly retrying: UntilDone;

  constructor(
    private readonly settings: PipelineSettings,
    private readonly deps: PipelineDeps,
  ) {
    this.retrying = untilDone(this.abort.signal);
    this.commits = new OffsetCommitter({
      commit: deps.commitOffsets,
      intervalMs: 0,
      onCommit: (outcome) => deps.metrics.commits.inc({ outcome }),
      logger: deps.logger,
    });
    this.writer = new DurableWriter(deps.producer, deps.batchSerde, { topic: settings.batchesTopic, groupId: settings.groupId }, this.retrying, deps.deadLetters);
    this.outcomes = new BatchOutcomes({
      writer: this.writer,
      commits: this.commits,
      metrics: deps.metrics,
      logger: deps.logger,
      dlqTopic: settings.dlqTopic,
    });
  }

  /** Results delivered and not finished (acknowledged or dead-lettered). */
  get outstanding(): number {
    return this.commits.outstanding;
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
    this.deps.dedup.release(this.generationOwner);
    this.generationOwner = {};
    this.prunePlans((entry) => {
      entry.waiting.splice(0);
      return survivesRebalance(entry.phase);
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
    await whileHeartbeating(heartbeat, this.ensureDedupRestored(generation));
    if (generation !== this.generation || this.stopping) return;
    const sources = batch.messages.map((m) => toConsumedRecord(topic, partition, m));
    const progress = this.commits.open(topic, partition);
    for (const source of sources) if (!progress.seen(source.offset)) progress.accept(source.offset);
    progress.acceptThrough(Number(batch.lastOffset()));

    const decoded = await whileHeartbeating(heartbeat, this.decodeAll(sources));
    if (generation !== this.generation) return;
    const now = Date.now();
    const valid: PendingAck<ConsumedRecord>[] = [];
    const invalid: { source: ConsumedRecord; reason: string }[] = [];
    for (const { source, result, invalid: why } of decoded) {
      const plan = this.journal.covering(topic, partition, source.offset);
      if (plan !== undefined) {
        this.attach(plan, source);
        continue;
      }
      const mapping = result === undefined ? { ok: false as const, reason: why ?? 'undecodable' } : toAck(result);
      if (!mapping.ok) {
        invalid.push({ source, reason: mapping.reason });
        continue;
      }
      const key = ackDedupKey(mapping.item.webhookId, source);
      if (this.deps.dedup.seen(partition, key) !== undefined) {
        // Acknowledged (or in a batch on its way) within the window: Cognigy hears of it once.
        this.deps.metrics.duplicates.inc();
        this.commits.finish(topic, partition, source.offset);
        this.commits.commitSoon();
        continue;
      }
      this.deps.dedup.hold(partition, key, 1, this.generationOwner);
      valid.push({ topic, partition, offset: source.offset, arrivedAt: now, item: mapping.item, source });
    }
    // Dead-lettered before any later record can join a plan, so a plan's ranges never cover a
    // record that is neither in the batch nor in the DLQ.
    if (invalid.length > 0) await whileHeartbeating(heartbeat, this.outcomes.deadLetterInvalid(invalid));
    if (generation !== this.generation || this.stopping) return;
    this.pending.push(...valid);
    this.closeWindows(false);

    while (!this.stopping && generation === this.generation && this.commits.outstanding >= this.settings.maxPending) {
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
      const entry = this.journal.cut(planRecord(entries, new Date()));
      for (const { source } of entries) this.attach(entry, source);
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
  private attach(entry: Plan, source: ConsumedRecord): void {
    const action = coveredRecord(entry.phase);
    if (action === 'finish') {
      this.commits.finish(source.topic, source.partition, source.offset);
      this.commits.commitSoon();
      return;
    }
    // The plan holds the event id, not the generation: a repeat of it delivered after a rebalance,
    // while the plan is still on its way to Cognigy, is a duplicate and not a new item.
    const eventId = source.headers[Header.eventId];
    if (eventId !== undefined) this.deps.dedup.hold(source.partition, ackDedupKey(eventId, source), 1, entry);
    entry.waiting.push(source);
    if (action === 'wait-and-dead-letter') void this.settle(entry);
    else if (action === 'wait-and-submit') this.enqueue(entry);
  }

  private enqueue(entry: Plan): void {
    entry.advance(take);
    this.queue.push(entry);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.settings.maxConcurrentBatches && this.queue.length > 0) {
      const entry = this.queue.shift() as Plan;
      this.active += 1;
      void this.submit(entry).finally(() => {
        this.active -= 1;
        this.wakeups.notify();
        this.pump();
      });
    }
  }

  /** Record the plan, send it until Cognigy takes it, record the outcome, then let the offsets go. */
  private async submit(entry: Plan): Promise<void> {
    const { plan, phase } = entry;
    const log = this.deps.logger.child({ batchId: plan.batchId, idempotencyKey: plan.idempotencyKey });
    try {
      if (phase.kind === 'submitting' && phase.planRecord === 'unwritten') {
        if (!this.journalHas(entry)) return; // dropped by a rebalance before it was recorded
        entry.advance(planWriteStarted);
        await this.writer.writeBatchRecord(plan);
        entry.advance(planWritten);
      }
      const started = performance.now();
      let submitted: Submitted;
      try {
        submitted = await submitBatch(this.deps.client, ackRequest(plan), this.settings.backoff, this.abort.signal, {
          onRetry: (error, delayMs, attempt) => this.outcomes.retrying(log, plan, error, delayMs, attempt),
        });
      } catch (error) {
        if (!(error instanceof BatchRejected)) throw error;
        await this.outcomes.rejected(entry, error, (performance.now() - started) / 1_000, log);
        await this.settle(entry);
        return;
      }
      await this.outcomes.accepted(entry, submitted, (performance.now() - started) / 1_000, log);
      await this.settle(entry);
    } catch (error) {
      entry.advance(submissionFailed);
      if (error instanceof SubmissionAborted || this.stopping) return;
      // Only Kafka write failures past their retries get here; the batch is tried again from its plan.
      log.error({ err: errorMessage(error) }, 'batch submission failed; retrying');
      setTimeout(() => {
        if (entry.phase.kind === 'planned' && this.journalHas(entry)) this.enqueue(entry);
      }, 1_000).unref();
    }
  }

  /**
   * Finishes the records a resolved plan accounts for and lets their offsets be committed; an
   * accepted plan's event ids are written to the dedup changelog first, so no restart or other
   * member acknowledges them again within the window.
   */
  private async settle(entry: Plan): Promise<void> {
    const { phase } = entry;
    if (phase.kind === 'recorded' && phase.outcome === 'DEAD_LETTERED') await this.outcomes.deadLetterPlanRecords(entry);
    if (phase.kind === 'recorded' && phase.outcome === 'ACCEPTED') await this.rememberAcknowledged(entry.waiting);
    const records = entry.waiting.splice(0);
    for (const r of records) this.commits.finish(r.topic, r.partition, r.offset);
    this.prune();
    this.commits.commitSoon();
    this.wakeups.notify();
  }

  /**
   * A resolved plan is kept until all its records were delivered in this generation (later
   * deliveries only happen in a new generation, which reads the journal again).
   */
  private prune(): void {
    this.prunePlans((entry) => {
      if (entry.phase.kind !== 'recorded') return true;
      if (entry.waiting.length > 0) return true;
      return entry.plan.items.some((range) => {
        const delivered = this.commits.get(range.topic, range.partition)?.finishedBelow;
        return delivered === undefined || delivered <= range.toOffset;
      });
    });
  }

  /** Drops the plans `keep` refuses, and with them the event ids they held. */
  private prunePlans(keep: (entry: Plan) => boolean): void {
    this.journal.prune((entry) => {
      if (keep(entry)) return true;
      this.deps.dedup.release(entry);
      return false;
    });
  }

  private async rememberAcknowledged(records: readonly ConsumedRecord[]): Promise<void> {
    const { dedup } = this.deps;
    const entries: { partition: number; key: string }[] = [];
    const changelog: OutRecord[] = [];
    for (const record of records) {
      const eventId = record.headers[Header.eventId];
      if (eventId === undefined) continue;
      const key = ackDedupKey(eventId, record);
      entries.push({ partition: record.partition, key });
      changelog.push(dedup.hold(record.partition, key, 1, this.generationOwner));
    }
    if (changelog.length === 0) return;
    await this.retrying(() => this.deps.producer.sendBatch({ topicMessages: byTopic(changelog), acks: -1 }));
    dedup.confirm(entries);
  }

  /** Once per generation: what other members (or this one before a restart) acknowledged is known. */
  private async ensureDedupRestored(generation: number): Promise<void> {
    if (this.dedupRestored === generation) return;
    await this.retrying(() => this.deps.dedup.restored());
    if (generation === this.generation) this.dedupRestored = generation;
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

  /**
   * One after the other: the first record fetches the writer schema, the rest find it cached. A
   * record that is not a result is invalid and dead-lettered; a registry that cannot be reached
   * says nothing about the record, so that is retried until it answers.
   */
  private async decodeAll(sources: ConsumedRecord[]): Promise<Decoded[]> {
    const decoded: Decoded[] = [];
    for (const source of sources) {
      try {
        decoded.push(await this.decodeOne(source));
      } catch (error) {
        if (!(error instanceof RegistryUnavailable)) throw error;
        decoded.push(await this.retrying(() => this.decodeOne(source)));
      }
    }
    return decoded;
  }

  private async decodeOne(source: ConsumedRecord): Promise<Decoded> {
    try {
      return { source, result: await this.deps.results.decode(source.value) };
    } catch (error) {
      if (error instanceof UndecodableRecord) return { source, invalid: error.message };
      throw error;
    }
  }

  private journalHas(entry: Plan): boolean {
    for (const known of this.journal.entries()) if (known === entry) return true;
    return false;
  }
}

/**
 * The dedup key of a result: its event id, plus the replay or redrive it came from (a deliberate
 * re-run's result is acknowledged again, once).
 */
function ackDedupKey(eventId: string, record: Pick<ConsumedRecord, 'headers'>): string {
  const replayId = record.headers[REPLAY_HEADER];
  return replayId === undefined ? eventId : `${eventId}\u0000${replayId}`;
}
