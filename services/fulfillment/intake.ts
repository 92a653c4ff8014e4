import { setMaxListeners } from 'node:events';
import type { EachBatchPayload } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import { toConsumedRecord, type ConsumedRecord } from '../../shared/stage/records.js';
import type { StageConsumer } from '../../shared/stage/stage.js';
import { ShuttingDown } from './errors.js';
import type { KeyOrderedExecutor } from './key-ordered-executor.js';
import type { FulfillmentMetrics } from './metrics.js';
import type { Output } from './output.js';
import { partitionKey } from '../../shared/stage/offsets.js';
import { PartitionWork } from './partition-work.js';
import type { PauseControl } from './pauses.js';
import type { RecordProcessor } from './processor.js';
import { dueAt } from './records.js';

export interface IntakeDeps {
  consumer: Pick<StageConsumer, 'seek' | 'inGroup'>;
  /** 0 for the callbacks topic, n for retry tier n. */
  tierOf: (topic: string) => number;
  executor: KeyOrderedExecutor;
  processor: RecordProcessor;
  output: Output;
  pauses: PauseControl;
  metrics: FulfillmentMetrics;
  logger: Logger;
  /** Records taken from Kafka and not finished, across partitions, before fetching waits. */
  maxBuffered: number;
  /** 'key': records of one session in order, sessions concurrently; 'partition': one at a time per partition. */
  ordering: 'key' | 'partition';
  /** How long a partition waits before it is read again after a failed write. */
  restartBackoffMs?: number;
}

/**
 * Takes records from kafkajs (`eachBatch`, no auto-resolve, no auto-commit) and hands them to the
 * key-ordered executor. A retry tier's record that is not due pauses its partition until it is
 * (pauses.ts); the next fetch then starts again at that record, since it was never resolved.
 * Offsets are committed by the output, only below the lowest unfinished record; a write the output
 * could not make is reported back, and the partition starts again from its committed offset.
 */
export class Intake {
  private readonly works = new Map<string, PartitionWork>();
  private readonly stopping = new AbortController();

  constructor(private readonly deps: IntakeDeps) {
    // Every record waiting on an open breaker listens for shutdown.
    setMaxListeners(0, this.stopping.signal);
    deps.output.onFailure((lane, error) => {
      const work = this.works.get(partitionKey(lane.topic, lane.partition));
      if (work?.lane === lane) this.restart(work, error);
    });
  }

  eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const first = batch.messages[0];
    // A batch fetched before a pause or a restart's seek is left unresolved: it is fetched again.
    if (!first || this.stopped || isStale() || this.deps.pauses.isHeld(topic, partition)) return;
    const work = await this.workFor(topic, partition, Number(first.offset));
    const tier = this.deps.tierOf(topic);
    const idle = () => !isRunning() || isStale() || this.stopped || work.dropped || this.deps.pauses.isHeld(topic, partition);
    for (const message of batch.messages) {
      if (idle()) return;
      if (Number(message.offset) < work.next) {
        // Taken before and fetched again, or below where a restarted partition resumes.
        resolveOffset(message.offset);
        continue;
      }
      const record = toConsumedRecord(topic, partition, message);
      if (tier > 0) {
        const due = dueAt(record);
        if (due > Date.now()) {
          this.deps.pauses.holdUntil(topic, partition, due);
          return;
        }
      }
      while (this.deps.executor.size >= this.deps.maxBuffered) {
        await Promise.race([this.deps.executor.whenBelow(this.deps.maxBuffered), delay(1_000)]);
        await heartbeat();
        if (idle()) return;
      }
      this.deps.output.accept(work.lane, record.offset);
      work.next = record.offset + 1;
      this.deps.executor.submit(this.orderingKey(record), () => this.run(work, record));
      resolveOffset(message.offset);
    }
    // Taken whole: a transaction marker after the last record is passed too.
    const last = Number(batch.lastOffset());
    if (last >= work.next && !idle()) {
      this.deps.output.acceptThrough(work.lane, last);
      work.next = last + 1;
      resolveOffset(batch.lastOffset());
    }
  };

  /** kafkajs GROUP_JOIN: forget partitions this instance no longer owns, pause the held ones again. */
  onAssignment(assignment: Record<string, number[]>): void {
    const owned = (topic: string, partition: number) => assignment[topic]?.includes(partition) ?? false;
    for (const work of [...this.works.values()]) {
      if (owned(work.topic, work.partition)) continue;
      this.drop(work);
    }
    this.deps.pauses.joined(owned);
    this.deps.logger.info({ assignment }, 'partitions assigned');
  }

  /**
   * Stops taking records, lets running ones finish (records queued behind them stay uncommitted
   * for the next owner), aborts waits on an open breaker, and flushes what finished.
   */
  async stop(drainTimeoutMs: number): Promise<void> {
    this.stopping.abort();
    this.deps.pauses.stop();
    await Promise.race([this.deps.executor.idle(), delay(drainTimeoutMs)]);
    await this.deps.output.flush();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async workFor(topic: string, partition: number, fetchedFrom: number): Promise<PartitionWork> {
    const id = partitionKey(topic, partition);
    const existing = this.works.get(id);
    if (existing) return existing;
    const work = new PartitionWork(await this.deps.output.open(topic, partition, fetchedFrom));
    this.works.set(id, work);
    return work;
  }

  private orderingKey(record: ConsumedRecord): string {
    const base = partitionKey(record.topic, record.partition);
    if (this.deps.ordering === 'partition') return base;
    // Records without a key belong to no session and need no order among themselves.
    return record.key ? `${base}:${record.key.toString('latin1')}` : `${base}@${record.offset}`;
  }

  private async run(work: PartitionWork, record: ConsumedRecord): Promise<void> {
    if (work.dropped || this.stopped) return;
    this.deps.metrics.inFlight.inc();
    try {
      const completion = await this.deps.processor.process(record, this.stopping.signal);
      this.deps.metrics.outcomes.inc({ outcome: completion.outcome });
      await this.deps.output.complete(work.lane, record.offset, completion);
    } catch (error) {
      if (!(error instanceof ShuttingDown)) this.restart(work, error);
    } finally {
      this.deps.metrics.inFlight.dec();
    }
  }

  /**
   * A write or encode failed: the partition starts over from its committed offset after a short
   * pause. What was written meanwhile is written again (at-least-once) or was never committed
   * (exactly-once).
   */
  private restart(work: PartitionWork, error: unknown): void {
    if (work.dropped || this.stopped) return;
    const offset = this.deps.output.restartPoint(work.lane);
    this.deps.logger.error({ err: error, topic: work.topic, partition: work.partition, offset }, 'partition restarts from its committed offset');
    this.drop(work);
    // Out of its group (kafkajs restarting it after a broker loss), the consumer takes no seek and
    // needs none: its new group starts every partition at the committed offset.
    if (this.deps.consumer.inGroup()) this.deps.consumer.seek({ topic: work.topic, partition: work.partition, offset: String(offset) });
    this.deps.pauses.holdUntil(work.topic, work.partition, Date.now() + (this.deps.restartBackoffMs ?? 1_000));
  }

  private drop(work: PartitionWork): void {
    work.dropped = true;
    this.works.delete(work.id);
    void this.deps.output.release(work.lane);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
