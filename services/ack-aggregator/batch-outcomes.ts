import type { AckBatch } from '../../shared/contracts.js';
import { errorClass, errorMessage } from '../../shared/errors.js';
import { Header } from '../../shared/headers.js';
import { messageLogger, type Logger } from '../../shared/logging.js';
import { outcomeRecord } from './batching.js';
import type { OffsetCommitter } from './commits.js';
import { deadLetter, DlqReason, type SourceRecord } from './dead-letter.js';
import type { DurableWriter } from './durable-writes.js';
import { BatchRejected, CountMismatch } from './errors.js';
import type { AckMetrics } from './metrics.js';
import type { PlanJournal, PlanState } from './plan-journal.js';
import type { Submitted } from './submitter.js';

/** A plan as the pipeline tracks it: whether it is on the batches topic yet, and Cognigy's refusal if any. */
export type Plan = PlanState<SourceRecord> & { recording?: boolean; recorded?: boolean; answer?: string };

export interface OutcomeDeps {
  journal: PlanJournal<SourceRecord>;
  writer: DurableWriter;
  commits: OffsetCommitter;
  metrics: AckMetrics;
  logger: Logger;
  dlqTopic: string;
}

/**
 * What happens to a batch and to results that never get into one: the outcome recorded on the
 * batches topic, the results dead-lettered, the metrics and the audit log line. Finishing the
 * records of a resolved plan is left to the pipeline, which also decides when plans are dropped.
 */
export class BatchOutcomes {
  constructor(private readonly deps: OutcomeDeps) {}

  async accepted(state: Plan, submitted: Submitted, latencyS: number, log: Logger): Promise<void> {
    const { plan } = state;
    const { metrics } = this.deps;
    const latencyMs = Math.round(latencyS * 1_000);
    await this.deps.writer.writeBatchRecord(
      outcomeRecord(plan, 'ACCEPTED', { processedCount: submitted.processedCount, failedCount: submitted.failedCount, latencyMs }, new Date()),
    );
    this.deps.journal.resolve(plan.batchId, 'ACCEPTED');
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
  }

  async rejected(state: Plan, error: BatchRejected, latencyS: number, log: Logger): Promise<void> {
    const { plan } = state;
    state.answer = error.answer;
    const latencyMs = Math.round(latencyS * 1_000);
    // The results go to the DLQ before the outcome is recorded: a read-back DEAD_LETTERED outcome
    // means its records were dead-lettered.
    await this.deadLetterPlanRecords(state);
    await this.deps.writer.writeBatchRecord(
      outcomeRecord(plan, 'DEAD_LETTERED', { processedCount: null, failedCount: null, latencyMs }, new Date()),
    );
    this.deps.journal.resolve(plan.batchId, 'DEAD_LETTERED');
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
  }

  /** A failed attempt that will be tried again with the same key. */
  retrying(log: Logger, plan: AckBatch, error: unknown, delayMs: number, attempt: number): void {
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

  /** Dead-letters the records a refused plan still holds and finishes them. */
  async deadLetterPlanRecords(state: Plan): Promise<void> {
    const records = state.waiting.splice(0);
    if (records.length === 0) return;
    const message = state.answer === undefined ? `Cognigy refused batch ${state.plan.batchId}` : state.answer;
    const now = new Date();
    await this.deps.writer.send(
      this.deps.dlqTopic,
      records.map((source) => deadLetter(source, { reason: DlqReason.batchRejected, errorClass: BatchRejected.name, errorMessage: message }, now)),
    );
    this.deps.metrics.deadLettered.inc({ reason: DlqReason.batchRejected }, records.length);
    for (const r of records) this.deps.commits.progress.done(r.topic, r.partition, r.offset);
  }

  /** Results that cannot become ack items: dead-lettered one by one, never part of a batch. */
  async deadLetterInvalid(invalid: { source: SourceRecord; reason: string }[]): Promise<void> {
    const now = new Date();
    await this.deps.writer.send(
      this.deps.dlqTopic,
      invalid.map(({ source, reason }) => deadLetter(source, { reason: DlqReason.invalidAckItem, errorClass: 'InvalidAckItem', errorMessage: reason }, now)),
    );
    for (const { source, reason } of invalid) {
      messageLogger(this.deps.logger, {
        eventId: source.headers[Header.eventId],
        correlationId: source.headers[Header.correlationId],
        sessionId: source.key?.toString(),
      }).warn({ reason, partition: source.partition, offset: source.offset }, 'invalid ack item dead-lettered on its own');
      this.deps.commits.progress.done(source.topic, source.partition, source.offset);
    }
    this.deps.metrics.deadLettered.inc({ reason: DlqReason.invalidAckItem }, invalid.length);
    this.deps.commits.commitSoon();
  }
}
