import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { AckBatch, FulfillmentResult } from '../../shared/contracts.js';
import { RetriableError, errorClass, errorMessage } from '../../shared/errors.js';
import { Header, headersToStrings } from '../../shared/headers.js';
import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from '../../shared/kafka.js';
import { messageLogger, type Logger } from '../../shared/logging.js';
import type { TopicSerde } from '../../shared/serde.js';
import { toAck } from './ack-items.js';
import type { BackoffSettings } from './backoff.js';
import { ackRequest, outcomeRecord, planBatches, planRecord, type BatchLimits, type PendingAck } from './batching.js';
import type { CognigyClient } from './cognigy-client.js';
import { deadLetter, DlqReason, type SourceRecord } from './dead-letter.js';
import { BatchRejected, CountMismatch, SubmissionAborted } from './errors.js';
import type { AckMetrics } from './metrics.js';
import { ACK_GROUP_HEADER } from './plan-reader.js';
import { PlanJournal, type PlanState } from './plan-journal.js';
import { OffsetProgress } from './progress.js';
import { submitBatch, type Submitted } from './submitter.js';

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

type Plan = PlanState<SourceRecord> & { recording?: boolean; recorded?: boolean; answer?: string };
type Decoded = { source: SourceRecord; result?: FulfillmentResult; invalid?: string };

class SchemaUnavailable extends RetriableError {}

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
 */
export class AckPipeline {
  private pending: PendingAck<SourceRecord>[] = [];
  private progress = new OffsetProgress();
  private readonly journal = new PlanJournal<SourceRecord>();
  /** Changes at every rebalance; work started under an older generation is discarded. */
  private generation = 0;
  private journalLoaded: { generation: number; sinceMs: number } | undefined;
  private windowTimer: NodeJS.Timeout | undefined;
  private readonly queue: Plan[] = [];
  private active = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  private commitRetry: NodeJS.Timeout | undefined;
  private wakeups: (() => void)[] = [];
  private readonly writeRetry = retry(handleAll, {
    maxAttempts: Number.POSITIVE_INFINITY,
    backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5_000 }),
  }).dangerouslyUnref();

  constructor(
    private readonly settings: PipelineSettings,
    private readonly deps: PipelineDeps,
  ) {}

  /** Results delivered and not finished (acknowledged or dead-lettered). */
  get outstanding(): number {
    return this.progress.outstanding;
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
    this.progress = new OffsetProgress();
    this.journalLoaded = undefined;
    this.journal.prune((state: Plan) => {
      state.waiting = [];
      if (state.own && !state.recorded && !state.recording) return false;
      return state.submitting;
    });
    this.wake();
  };

  /** kafkajs eachBatch: decode, map, dead-letter the invalid alone, window the rest. */
  handleBatch = async ({ batch, heartbeat }: EachBatchPayload): Promise<void> => {
    const generation = this.generation;
    const { topic, partition } = batch;
    const first = batch.messages[0];
    if (this.stopping || first === undefined) return;

    await this.whileHeartbeating(heartbeat, this.ensureJournal(generation, Number(first.timestamp) - this.settings.planLookbackMs));
    if (generation !== this.generation || this.stopping) return;
    const sources = batch.messages.map((m) => toSource(topic, partition, m));
    this.progress.track(topic, partition, sources.map((s) => s.offset), Number(batch.lastOffset()));

    const decoded = await this.whileHeartbeating(heartbeat, this.decodeAll(sources));
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
    if (invalid.length > 0) await this.whileHeartbeating(heartbeat, this.deadLetterInvalid(invalid));
    if (generation !== this.generation || this.stopping) return;
    this.pending.push(...valid);
    this.closeWindows(false);

    while (!this.stopping && generation === this.generation && this.progress.outstanding >= this.settings.maxPending) {
      await this.changed(1_000);
      await heartbeat();
    }
  };

  /** Stops taking results, flushes the open window and waits (up to `deadlineMs`) for the batches to be taken. */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.closeWindows(true);
    this.wake();
    const deadline = Date.now() + deadlineMs;
    while ((this.active > 0 || this.queue.length > 0) && Date.now() < deadline) await this.changed(Math.min(250, deadline - Date.now()));
    this.abort.abort();
    this.armWindowTimer(null);
    clearTimeout(this.commitRetry);
    await this.committing;
    this.commitSoon();
    await this.committing;
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
      this.progress.done(source.topic, source.partition, source.offset);
      this.commitSoon();
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
        this.wake();
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
        await this.writeBatchRecord(plan);
        state.recorded = true;
      }
      const started = performance.now();
      let submitted: Submitted;
      try {
        submitted = await submitBatch(this.deps.client, ackRequest(plan), this.settings.backoff, this.abort.signal, {
          onRetry: (error, delayMs, attempt) => this.onRetry(log, plan, error, delayMs, attempt),
        });
      } catch (error) {
        if (!(error instanceof BatchRejected)) throw error;
        await this.rejected(state, error, (performance.now() - started) / 1_000, log);
        return;
      }
      await this.accepted(state, submitted, (performance.now() - started) / 1_000, log);
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

  private async accepted(state: Plan, submitted: Submitted, latencyS: number, log: Logger): Promise<void> {
    const { plan } = state;
    const { metrics } = this.deps;
    const latencyMs = Math.round(latencyS * 1_000);
    await this.writeBatchRecord(
      outcomeRecord(plan, 'ACCEPTED', { processedCount: submitted.processedCount, failedCount: submitted.failedCount, latencyMs }, new Date()),
    );
    this.journal.resolve(plan.batchId, 'ACCEPTED');
    const ackRate = submitted.processedCount === null || plan.batchSize === 0 ? null : submitted.processedCount / plan.batchSize;
    metrics.batches.inc({ outcome: submitted.outcome });
    metrics.latency.observe({ outcome: submitted.outcome }, latencyS);
    metrics.batchSize.observe(plan.batchSize);
    for (const item of plan.statusMatrix) metrics.acks.inc({ status: item.status });
    if (submitted.processedCount !== null) metrics.processed.inc(submitted.processedCount);
    if (submitted.failedCount !== null) metrics.failed.inc(submitted.failedCount);
    if (ackRate !== null) metrics.ackRate.set(ackRate);
    const now = Date.now();
    for (const source of state.waiting) {
      const receivedAt = Date.parse(source.headers[Header.receivedAt] ?? '');
      if (Number.isFinite(receivedAt)) metrics.endToEnd.observe(Math.max(0, now - receivedAt) / 1_000);
    }
    log.info(
      {
        audit: 'ack-batch',
        timestamp: new Date(now).toISOString(),
        status: 'ACCEPTED',
        httpStatus: submitted.httpStatus,
        duplicate: submitted.outcome === 'duplicate',
        latencyMs,
        ackRate,
        batchSize: plan.batchSize,
        processedCount: submitted.processedCount,
        failedCount: submitted.failedCount,
        attempts: submitted.attempts,
      },
      submitted.outcome === 'duplicate' ? 'ack batch already applied (409)' : 'ack batch accepted',
    );
    await this.settle(state);
  }

  private async rejected(state: Plan, error: BatchRejected, latencyS: number, log: Logger): Promise<void> {
    const { plan } = state;
    state.answer = error.answer;
    const latencyMs = Math.round(latencyS * 1_000);
    // The results go to the DLQ before the outcome is recorded: a read-back DEAD_LETTERED outcome
    // means its records were dead-lettered.
    await this.deadLetterPlanRecords(state);
    await this.writeBatchRecord(outcomeRecord(plan, 'DEAD_LETTERED', { processedCount: null, failedCount: null, latencyMs }, new Date()));
    this.journal.resolve(plan.batchId, 'DEAD_LETTERED');
    this.deps.metrics.batches.inc({ outcome: 'dead_lettered' });
    this.deps.metrics.latency.observe({ outcome: 'dead_lettered' }, latencyS);
    log.error(
      {
        audit: 'ack-batch',
        timestamp: new Date().toISOString(),
        status: 'DEAD_LETTERED',
        httpStatus: error.status,
        answer: error.answer,
        latencyMs,
        ackRate: 0,
        batchSize: plan.batchSize,
      },
      'ack batch refused by Cognigy; its results were dead-lettered',
    );
    await this.settle(state);
  }

  /** Finishes the records a resolved plan accounts for and lets their offsets be committed. */
  private async settle(state: Plan): Promise<void> {
    if (state.outcome === 'DEAD_LETTERED') await this.deadLetterPlanRecords(state);
    const records = state.waiting.splice(0);
    for (const r of records) this.progress.done(r.topic, r.partition, r.offset);
    this.prune();
    this.commitSoon();
    this.wake();
  }

  private async deadLetterPlanRecords(state: Plan): Promise<void> {
    const records = state.waiting.splice(0);
    if (records.length === 0) return;
    const message = state.answer === undefined ? `Cognigy refused batch ${state.plan.batchId}` : state.answer;
    const now = new Date();
    await this.send(
      this.settings.dlqTopic,
      records.map((source) => deadLetter(source, { reason: DlqReason.batchRejected, errorClass: BatchRejected.name, errorMessage: message }, now)),
    );
    this.deps.metrics.deadLettered.inc({ reason: DlqReason.batchRejected }, records.length);
    for (const r of records) this.progress.done(r.topic, r.partition, r.offset);
  }

  private async deadLetterInvalid(invalid: { source: SourceRecord; reason: string }[]): Promise<void> {
    const now = new Date();
    await this.send(
      this.settings.dlqTopic,
      invalid.map(({ source, reason }) => deadLetter(source, { reason: DlqReason.invalidAckItem, errorClass: 'InvalidAckItem', errorMessage: reason }, now)),
    );
    for (const { source, reason } of invalid) {
      messageLogger(this.deps.logger, {
        eventId: source.headers[Header.eventId],
        correlationId: source.headers[Header.correlationId],
        sessionId: source.key?.toString(),
      }).warn({ reason, partition: source.partition, offset: source.offset }, 'invalid ack item dead-lettered on its own');
      this.progress.done(source.topic, source.partition, source.offset);
    }
    this.deps.metrics.deadLettered.inc({ reason: DlqReason.invalidAckItem }, invalid.length);
    this.commitSoon();
  }

  private onRetry(log: Logger, plan: AckBatch, error: unknown, delayMs: number, attempt: number): void {
    this.deps.metrics.submitFailures.inc({ error: errorClass(error) });
    if (error instanceof CountMismatch) {
      this.deps.metrics.countMismatches.inc();
      log.warn(
        { batchSize: plan.batchSize, answer: error.answer, attempt, delayMs: Math.round(delayMs) },
        'count mismatch: Cognigy did not account for every item; not committed, retrying',
      );
      return;
    }
    log.warn({ error: errorClass(error), reason: errorMessage(error), attempt, delayMs: Math.round(delayMs) }, 'ack batch attempt failed; retrying');
  }

  /** Commits, per partition, the offset after the longest finished prefix; at most one commit in flight. */
  private commitSoon(): void {
    if (this.committing !== undefined) {
      this.commitAgain = true;
      return;
    }
    this.committing = this.commit().finally(() => {
      this.committing = undefined;
    });
  }

  private async commit(): Promise<void> {
    do {
      this.commitAgain = false;
      const progress = this.progress;
      const due = progress.commitsDue();
      if (due.length === 0) return;
      try {
        await this.deps.consumer.commitOffsets(due.map((d) => ({ topic: d.topic, partition: d.partition, offset: String(d.offset) })));
        for (const d of due) progress.committed(d.topic, d.partition, d.offset);
        this.deps.metrics.commits.inc({ outcome: 'ok' });
      } catch (error) {
        // A rebalance in progress refuses commits; the new generation starts from the last commit.
        this.deps.metrics.commits.inc({ outcome: 'failed' });
        this.deps.logger.warn({ err: errorMessage(error) }, 'offset commit failed; retrying');
        clearTimeout(this.commitRetry);
        if (!this.stopping) this.commitRetry = setTimeout(() => this.commitSoon(), 1_000);
        return;
      }
    } while (this.commitAgain);
  }

  /**
   * A resolved plan is kept until all its records were delivered in this generation (later
   * deliveries only happen in a new generation, which reads the journal again).
   */
  private prune(): void {
    this.journal.prune((state: Plan) => {
      if (state.outcome === null) return true;
      if (state.waiting.length > 0) return true;
      return state.plan.items.some((range) => {
        const delivered = this.progress.safeOffset(range.topic, range.partition);
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

  /** One after the other: the first record fetches the writer schema, the rest find it cached. */
  private async decodeAll(sources: SourceRecord[]): Promise<Decoded[]> {
    const decoded: Decoded[] = [];
    for (const source of sources) decoded.push(await this.decode(source));
    return decoded;
  }

  private async decode(source: SourceRecord): Promise<Decoded> {
    const value = source.value;
    if (value === null || value.length < 5 || value[0] !== 0) return { source, invalid: 'value is not Avro in the Confluent wire format' };
    const schemaId = value.readInt32BE(1);
    try {
      await this.writeRetry.execute(async () => {
        try {
          await this.deps.registry.getSchema(schemaId);
        } catch (error) {
          if ((error as { status?: number }).status === 404) return;
          throw new SchemaUnavailable(`schema ${schemaId} could not be fetched: ${errorMessage(error)}`, { cause: error });
        }
      }, this.abort.signal);
      return { source, result: await this.deps.resultSerde.decode(value) };
    } catch (error) {
      if (error instanceof SchemaUnavailable) throw error;
      return { source, invalid: `undecodable FulfillmentResult: ${errorMessage(error)}` };
    }
  }

  private async writeBatchRecord(record: AckBatch): Promise<void> {
    const value = await this.deps.batchSerde.encode(record);
    await this.send(this.settings.batchesTopic, [
      { key: Buffer.from(record.batchId), value, headers: { [ACK_GROUP_HEADER]: this.settings.groupId } },
    ]);
  }

  /** Kafka writes the pipeline cannot do without (plans, outcomes, DLQ): retried until they succeed. */
  private async send(topic: string, messages: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }[]): Promise<void> {
    await this.writeRetry.execute(() => this.deps.producer.send({ topic, acks: -1, messages }), this.abort.signal);
  }

  private journalHas(state: Plan): boolean {
    for (const s of this.journal.states()) if (s === state) return true;
    return false;
  }

  private async whileHeartbeating<T>(heartbeat: () => Promise<void>, work: Promise<T>): Promise<T> {
    let done = false;
    const beats = (async () => {
      while (!done) {
        await Promise.race([work.catch(() => undefined), delay(1_000)]);
        if (!done) await heartbeat();
      }
    })();
    try {
      return await Promise.race([work, beats.then(() => work)]);
    } finally {
      done = true;
    }
  }

  private changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.wakeups.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const wakeups = this.wakeups;
    this.wakeups = [];
    for (const w of wakeups) w();
  }
}

function toSource(topic: string, partition: number, message: KafkaMessage): SourceRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key,
    value: message.value,
    headers: headersToStrings(message.headers),
    timestamp: Number(message.timestamp),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
