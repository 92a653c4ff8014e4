import { setTimeout as sleep } from 'node:timers/promises';
import type { FulfillmentResult } from '../../shared/contracts.js';
import { submitRetryPolicy, type BackoffSettings } from '../../shared/cognigy/backoff.js';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { errorClass, errorMessage, isRetriable } from '../../shared/errors.js';
import { Header } from '../../shared/headers.js';
import type { EachBatchPayload, Producer } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { DeadLetterNotifier } from '../../shared/stage/dead-letter-notifier.js';
import { deadLetterRecord, readFirstFailedAt } from '../../shared/stage/dead-letter.js';
import { RegistryUnavailable, UndecodableRecord, type RecordDecoder } from '../../shared/stage/decoder.js';
import { OffsetCommitter, type TopicPartitionOffset } from '../../shared/stage/offsets.js';
import { toConsumedRecord, type ConsumedRecord } from '../../shared/stage/records.js';
import { SessionLanes, type Pending, type SkipReason } from './lanes.js';
import type { SessionWriterMetrics } from './metrics.js';
import { placeOf } from './order.js';
import type { CallBudget } from './rate-limit.js';
import { SessionGone, WriteRefused, type SessionsClient } from './sessions-client.js';
import { variablesOf, type VariableMap } from './variables.js';

/** Why the writer put a result on the DLQ (`dlq-reason`). */
export type WriterDlqReason = 'session-gone' | 'variables-refused' | 'undecodable-result';

export interface WriterSettings {
  dlqTopic: string;
  variables: VariableMap;
  concurrency: number;
  maxHeld: number;
  orderMemory: number;
  backoff: BackoffSettings;
}

export interface WriterDeps {
  decoder: RecordDecoder<'FulfillmentResult'>;
  client: SessionsClient;
  budget: CallBudget;
  producer: Producer;
  commit: (offsets: TopicPartitionOffset[]) => Promise<void>;
  deadLetters: DeadLetterNotifier;
  /** The writer cannot go on (refused credentials): the stage stops. */
  fatal: (error: unknown, message: string) => void;
  metrics: SessionWriterMetrics;
  logger: Logger;
}

interface Taken {
  record: ConsumedRecord;
  result: FulfillmentResult;
  takenAt: number;
}

/**
 * The session writer's domain: results in, session variables out. Each result is decoded and
 * offered to its session's lane (only the newest callback of a session is written); workers take
 * ready sessions in turn, each call first taking a slot from the instance's call budget. An offset
 * is committed once every result below it was written, skipped or dead-lettered, so a crash or a
 * stop loses nothing: what was not finished is read again.
 */
export class SessionWriter {
  private readonly committer: OffsetCommitter;
  private readonly lanes: SessionLanes<Taken>;
  private readonly stopping = new AbortController();
  private readonly workers: Promise<void>[];
  /** Workers waiting for a session to become ready; the intake waiting for results to finish. */
  private readonly idleWorkers = new Wakeups();
  private readonly blockedIntake = new Wakeups();
  /** Stopping (or refused): no new write starts. Writes in flight end when `stopping` aborts. */
  private closing = false;

  constructor(
    private readonly settings: WriterSettings,
    private readonly deps: WriterDeps,
  ) {
    this.committer = new OffsetCommitter({
      commit: deps.commit,
      intervalMs: 500,
      logger: deps.logger,
      onCommit: (outcome) => deps.metrics.commits.inc({ outcome }),
    });
    this.lanes = new SessionLanes<Taken>(settings.orderMemory, (pending, why) => this.skipped(pending, why));
    this.workers = Array.from({ length: settings.concurrency }, () => this.work());
  }

  /** Results delivered and not finished. */
  get held(): number {
    return this.committer.outstanding;
  }

  handleBatch = async ({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
    const progress = this.committer.open(batch.topic, batch.partition);
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || this.closing) return;
      const record = toConsumedRecord(batch.topic, batch.partition, message);
      if (progress.seen(record.offset)) continue;
      progress.accept(record.offset);
      await this.take(record, heartbeat);
    }
    progress.acceptThrough(Number(batch.lastOffset()));
    this.committer.commitSoon();
    // Back-pressure: with this many results held, fetching more would only grow memory.
    while (this.held >= this.settings.maxHeld && isRunning() && !isStale() && !this.closing) {
      await this.blockedIntake.wait(1_000);
      await heartbeat();
    }
  };

  /** A rebalance: offsets go back to the last commit, and what was waiting is delivered again. */
  onRebalance = (): void => {
    this.committer.reset();
    this.lanes.dropWaiting();
  };

  /**
   * Stops taking results, lets writes in flight finish within most of `budgetMs` (then aborts
   * them: they stay uncommitted), commits what finished.
   */
  async stop(budgetMs: number): Promise<void> {
    this.closing = true;
    this.idleWorkers.wakeAll();
    this.blockedIntake.wakeAll();
    const deadline = setTimeout(() => this.stopping.abort(), Math.max(100, budgetMs - 1_000));
    await Promise.all(this.workers);
    clearTimeout(deadline);
    await this.committer.flush();
  }

  private async take(record: ConsumedRecord, heartbeat: () => Promise<void>): Promise<void> {
    let result: FulfillmentResult;
    for (let attempt = 1; ; attempt += 1) {
      try {
        result = await this.deps.decoder.decode(record.value);
        break;
      } catch (error) {
        if (error instanceof UndecodableRecord) return this.deadLetter(record, 'undecodable-result', error);
        if (!(error instanceof RegistryUnavailable)) throw error;
        if (this.closing) return; // left unfinished: read again after the next start
        // The registry is out: this result waits for it, and so does the partition behind it.
        this.deps.logger.warn({ err: errorMessage(error), attempt }, 'schema registry unavailable; decoding again');
        await this.pause(attempt);
        await heartbeat();
      }
    }
    this.lanes.offer({ session: result.sessionId, place: placeOf(record.headers), item: { record, result, takenAt: Date.now() } });
    this.idleWorkers.wakeAll();
  }

  private skipped(pending: Pending<Taken>, why: SkipReason): void {
    const { record } = pending.item;
    if (this.committer.finish(record.topic, record.partition, record.offset)) this.finished(why);
  }

  private finished(outcome: 'written' | SkipReason | 'dead_lettered'): void {
    this.deps.metrics.results.inc({ outcome });
    this.committer.commitSoon();
    this.blockedIntake.wakeAll();
  }

  private async work(): Promise<void> {
    while (!this.closing) {
      const pending = this.lanes.next();
      if (pending === undefined) await this.idleWorkers.wait(1_000);
      else await this.write(pending);
    }
  }

  private async write(pending: Pending<Taken>): Promise<void> {
    const { record, result, takenAt } = pending.item;
    const log = this.deps.logger.child({ eventId: result.eventId, correlationId: result.correlationId, sessionId: result.sessionId });
    const signal = this.stopping.signal;
    const policy = submitRetryPolicy(this.settings.backoff, (error) => isRetriable(error) && !(error instanceof CognigyUnauthorized));
    const retried = policy.onRetry((reason) => {
      if (!('error' in reason)) return;
      const error = reason.error;
      // A 429 is about the key, not this call: every worker waits, for as long as Cognigy asked.
      if (error instanceof CognigyRateLimited) this.deps.budget.hold(error.retryAfterMs ?? reason.delay);
      log.warn({ err: errorMessage(error), attempt: reason.attempt, delayMs: reason.delay }, 'session variables not written; retrying');
    });
    try {
      await policy.execute(async () => {
        await this.deps.budget.take(signal);
        try {
          await this.deps.client.write(result.sessionId, variablesOf(result, this.settings.variables), signal);
          this.deps.metrics.calls.inc({ answer: 'ok' });
        } catch (error) {
          this.deps.metrics.calls.inc({ answer: answerOf(error) });
          throw error;
        }
      }, signal);
    } catch (error) {
      this.lanes.done(pending, false);
      if (signal.aborted) return; // stopping: the result stays uncommitted and is written after the next start
      if (error instanceof CognigyUnauthorized) return this.refuse(error);
      const reason: WriterDlqReason = error instanceof SessionGone ? 'session-gone' : 'variables-refused';
      if (!(error instanceof SessionGone || error instanceof WriteRefused)) log.error({ err: error }, 'unexpected failure writing session variables');
      else log.warn({ err: errorMessage(error), reason }, 'session variables refused; dead-lettering the result');
      return this.deadLetter(record, reason, error);
    } finally {
      retried.dispose();
    }
    this.lanes.done(pending, true);
    if (this.committer.finish(record.topic, record.partition, record.offset)) {
      this.finished('written');
      this.deps.metrics.latency.observe((Date.now() - takenAt) / 1_000);
      const receivedAt = Date.parse(record.headers[Header.receivedAt] ?? '');
      if (Number.isFinite(receivedAt)) this.deps.metrics.endToEnd.observe(Math.max(0, Date.now() - receivedAt) / 1_000);
    }
  }

  /** 401/403 after a refresh: retrying would only burn calls against a limit; the stage stops. */
  private refuse(error: CognigyUnauthorized): void {
    if (this.closing) return;
    this.closing = true;
    this.deps.fatal(
      error,
      `session writer stopped: ${error.message}; check COGNIGY_API_KEY (or the OAuth2 client) and its session:write scope, then start it again (nothing was committed past the refused result)`,
    );
  }

  /** Before trying a Kafka-side step again (decoding, a dead-letter write): exponential, capped. */
  private pause(attempt: number): Promise<void> {
    const { baseDelayMs, maxDelayMs } = this.settings.backoff;
    return sleep(Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 10)));
  }

  /** The result on the DLQ, sent until the broker has it (or the writer stops); then finished and notified. */
  private async deadLetter(record: ConsumedRecord, reason: WriterDlqReason, error: unknown): Promise<void> {
    const dead = deadLetterRecord(record, this.settings.dlqTopic, reason, { error, firstFailedAt: readFirstFailedAt(record.headers), now: Date.now() });
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deps.producer.send({ topic: dead.topic, messages: [{ key: dead.key, value: dead.value, headers: dead.headers }] });
        break;
      } catch (sendError) {
        if (this.stopping.signal.aborted) return;
        this.deps.logger.warn({ err: errorMessage(sendError), attempt }, 'dead letter not written; retrying');
        await this.pause(attempt);
      }
    }
    this.deps.deadLetters.notify([dead]);
    this.deps.metrics.deadLettered.inc({ reason });
    if (this.committer.finish(record.topic, record.partition, record.offset)) this.finished('dead_lettered');
  }
}

function answerOf(error: unknown): string {
  if (error instanceof CognigyRateLimited) return 'rate_limited';
  if (error instanceof CognigyUnauthorized) return 'unauthorized';
  if (error instanceof SessionGone) return 'gone';
  if (error instanceof WriteRefused) return 'refused';
  if (error instanceof CognigyUnavailable) return 'unavailable';
  return errorClass(error);
}

/** Parked callers, woken together or after their own timeout (so a missed wake costs at most that). */
class Wakeups {
  private readonly parked = new Set<() => void>();

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.parked.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.parked.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.parked]) wake();
  }
}
