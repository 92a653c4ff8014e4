import type { AckBatch } from '../../shared/contracts.js';
import { errorClass, errorMessage } from '../../shared/errors.js';
import { Header } from '../../shared/headers.js';
import { messageLogger, type Logger } from '../../shared/logging.js';
import { deadLetterRecord, namedError, readFirstFailedAt } from '../../shared/stage/dead-letter.js';
import type { OffsetCommitter } from '../../shared/stage/offsets.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';
import { outcomeRecord } from './batching.js';
import type { DurableWriter } from './durable-writes.js';
import { BatchRejected, CountMismatch } from './errors.js';
import type { AckMetrics } from './metrics.js';
import type { PlanEntry } from './plan-journal.js';
import { answered, outcomeRecorded } from './plan-lifecycle.js';
import type { Submitted } from './submitter.js';

/** A plan as the pipeline tracks it: the records waiting for it are Kafka records, kept for the DLQ. */
export type Plan = PlanEntry<ConsumedRecord>;

export const DlqReason = {
  /** The result cannot become a valid ack item (undecodable, or a status/directive Cognigy refuses). */
  invalidAckItem: 'invalid-ack-item',
  /** Cognigy answered 400 to the batch the result was in. */
  batchRejected: 'ack-batch-rejected',
} as const;

export interface OutcomeDeps {
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

  async accepted(entry: Plan, submitted: Submitted, latencyS: number, log: Logger): Promise<void> {
    const { plan } = entry;
    const { metrics } = this.deps;
    const latencyMs = Math.round(latencyS * 1_000);
    entry.advance(answered, 'ACCEPTED');
    await this.deps.writer.writeBatchRecord(
      outcomeRecord(plan, 'ACCEPTED', { processedCount: submitted.processedCount, failedCount: submitted.failedCount, latencyMs }, new Date()),
    );
    entry.advance(outcomeRecorded);
    const ackRate = submitted.processedCount === null || plan.batchSize === 0 ? null : submitted.processedCount / plan.batchSize;
    metrics.batches.inc({ outcome: submitted.outcome });
    metrics.latency.observe({ outcome: submitted.outcome }, latencyS);
    metrics.batchSize.observe(plan.batchSize);
    for (const item of plan.statusMatrix) metrics.acks.inc({ status: item.status });
    if (submitted.processedCount !== null) metrics.processed.inc(submitted.processedCount);
    if (submitted.failedCount !== null) metrics.failed.inc(submitted.failedCount);
    if (ackRate !== null) metrics.ackRate.set(ackRate);
    const now = Date.now();
    for (const source of entry.waiting) {
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

  async rejected(entry: Plan, error: BatchRejected, latencyS: number, log: Logger): Promise<void> {
    const { plan } = entry;
    entry.advance(answered, 'DEAD_LETTERED', error.answer);
    const latencyMs = Math.round(latencyS * 1_000);
    // The results go to the DLQ before the outcome is recorded: a read-back DEAD_LETTERED outcome
    // means its records were dead-lettered.
    await this.deadLetterPlanRecords(entry);
    await this.deps.writer.writeBatchRecord(
      outcomeRecord(plan, 'DEAD_LETTERED', { processedCount: null, failedCount: null, latencyMs }, new Date()),
    );
    entry.advance(outcomeRecorded);
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
  async deadLetterPlanRecords(entry: Plan): Promise<void> {
    const records = entry.waiting.splice(0);
    if (records.length === 0) return;
    const { phase } = entry;
    // A refusal read back from the topic has no answer text; the batch id says which one it was.
    const answer = phase.kind === 'answered' || phase.kind === 'recorded' ? phase.answer : undefined;
    const message = answer === undefined ? `Cognigy refused batch ${entry.plan.batchId}` : answer;
    const error = namedError(BatchRejected.name, message);
    await this.deps.writer.send(records.map((source) => this.deadLetter(source, DlqReason.batchRejected, error)));
    this.deps.metrics.deadLettered.inc({ reason: DlqReason.batchRejected }, records.length);
    for (const r of records) this.deps.commits.finish(r.topic, r.partition, r.offset);
  }

  /** Results that cannot become ack items: dead-lettered one by one, never part of a batch. */
  async deadLetterInvalid(invalid: { source: ConsumedRecord; reason: string }[]): Promise<void> {
    await this.deps.writer.send(invalid.map(({ source, reason }) => this.deadLetter(source, DlqReason.invalidAckItem, namedError('InvalidAckItem', reason))));
    for (const { source, reason } of invalid) {
      messageLogger(this.deps.logger, {
        eventId: source.headers[Header.eventId],
        correlationId: source.headers[Header.correlationId],
        sessionId: source.key?.toString(),
      }).warn({ reason, partition: source.partition, offset: source.offset }, 'invalid ack item dead-lettered on its own');
      this.deps.commits.finish(source.topic, source.partition, source.offset);
    }
    this.deps.metrics.deadLettered.inc({ reason: DlqReason.invalidAckItem }, invalid.length);
    this.deps.commits.commitSoon();
  }

  private deadLetter(source: ConsumedRecord, reason: string, error: Error) {
    return deadLetterRecord(source, this.deps.dlqTopic, reason, { error, firstFailedAt: readFirstFailedAt(source.headers), now: Date.now() });
  }
}
