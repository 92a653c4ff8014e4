import type { CognigyCallback, FulfillmentResult } from '../../shared/contracts.js';
import { errorMessage } from '../../shared/errors.js';
import { Header } from '../../shared/headers.js';
import { messageLogger, type Logger } from '../../shared/logging.js';
import type { TopicNames } from '../../shared/topics.js';
import { REPLAY_HEADER, type DedupStore } from '../../shared/stage/dedup-store.js';
import type { ConsumedRecord, OutRecord } from '../../shared/stage/records.js';
import { buildResult, decideFailure, type Ending, type ResultSubject } from './decisions.js';
import type { DownstreamClient, DownstreamRequest } from './downstream-client.js';
import { downstreamStatus, ShuttingDown } from './errors.js';
import type { FulfillmentMetrics } from './metrics.js';
import { attemptState, deadLetterRecord, identityFromEnvelope, resultHeaders, retryRecord } from './records.js';
import type { RetryPolicy } from './retry-policy.js';
import { route, type Thresholds } from './routing.js';

/** What one record led to: the records to write, and what the dedup store remembers once they are durable. */
export interface Completion {
  outcome: Outcome;
  outputs: OutRecord[];
  /**
   * The callback's event id, on the record's partition number, and the attempt this record made:
   * a copy of the callback, or this record read again, is a duplicate from then on.
   */
  handled?: Handled;
}

export interface Handled {
  partition: number;
  eventId: string;
  attempt: number;
}

export type Outcome = 'fulfilled' | 'fallback' | 'retried' | 'dead-lettered' | 'duplicate';

export interface ProcessorDeps {
  topics: TopicNames;
  tierOf: (topic: string) => number;
  decode: (value: Buffer | null) => Promise<CognigyCallback>;
  encodeResult: (result: FulfillmentResult) => Promise<Buffer>;
  downstream: DownstreamClient;
  thresholds: Thresholds;
  policy: RetryPolicy;
  dedup: Pick<DedupStore, 'seen' | 'replayOf'>;
  metrics: FulfillmentMetrics;
  logger: Logger;
  now?: () => number;
}

/**
 * One record from the callbacks topic or a retry tier, start to end: decode, skip a repeat,
 * route (routing.ts), call the downstream (downstream-client.ts), and on failure let
 * decisions.ts choose between a retry tier and the DLQ. Returns the records to write; writing
 * them and committing the offset is the caller's (output.ts).
 */
export class RecordProcessor {
  private readonly now: () => number;

  constructor(private readonly deps: ProcessorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Throws only ShuttingDown (the record stays uncommitted) or when a result cannot be encoded
   * (the caller restarts the partition from its committed offset).
   */
  async process(record: ConsumedRecord, signal: AbortSignal): Promise<Completion> {
    const completion = await this.handle(record, signal);
    // What a replayed or redriven callback leads to says so: its retries carry the id on, and the
    // aggregator acknowledges its result again (its dedup key includes the id).
    const redrivenFrom = record.headers[Header.redrivenFrom];
    const replayId = this.deps.dedup.replayOf(record) ?? (redrivenFrom === undefined ? undefined : `redrive:${redrivenFrom}`);
    if (replayId !== undefined) for (const output of completion.outputs) output.headers[REPLAY_HEADER] = replayId;
    return completion;
  }

  private async handle(record: ConsumedRecord, signal: AbortSignal): Promise<Completion> {
    const state = attemptState(record, this.deps.tierOf);
    const attempt = state.previousAttempts + 1;
    let callback: CognigyCallback;
    try {
      callback = await this.deps.decode(record.value);
    } catch (error) {
      return this.failed(record, undefined, { attempt, threshold: null, error, state });
    }
    // Every copy of an event lands on this partition number; an attempt already made is not made
    // again. A redriven record is an operator's deliberate new cycle: it starts the count over
    // (read again by a replay, it is a repeat like any other record the replay reads).
    const seen = this.deps.dedup.seen(record.partition, callback.eventId);
    const fresh = state.redriven && this.deps.dedup.replayOf(record) === undefined;
    if (!fresh && seen !== undefined && seen >= attempt) return { outcome: 'duplicate', outputs: [] };
    const handled: Handled = { partition: record.partition, eventId: callback.eventId, attempt };
    return { ...(await this.routed(record, callback, { attempt, state, signal })), handled };
  }

  private async routed(
    record: ConsumedRecord,
    callback: CognigyCallback,
    { attempt, state, signal }: { attempt: number; state: ReturnType<typeof attemptState>; signal: AbortSignal },
  ): Promise<Completion> {
    const { route: to, threshold } = route(callback, this.deps.thresholds);
    if (to === 'fallback') return this.ended(record, callback, 'fallback', { attempts: 0, threshold, downstreamStatus: null });
    let reply: { status: number; response: string | null };
    try {
      reply = await this.deps.downstream.fulfill(downstreamRequest(callback, record), signal);
    } catch (error) {
      if (error instanceof ShuttingDown) throw error;
      return this.failed(record, callback, { attempt, threshold, error, state });
    }
    return this.ended(record, callback, 'fulfilled', { attempts: attempt, threshold, downstreamStatus: reply.status, response: reply.response });
  }

  private async failed(
    record: ConsumedRecord,
    callback: CognigyCallback | undefined,
    f: { attempt: number; threshold: number | null; error: unknown; state: ReturnType<typeof attemptState> },
  ): Promise<Completion> {
    const now = this.now();
    const log = this.logFor(record, callback);
    const decision = decideFailure(f.error, f.attempt, this.deps.policy, now, { firstFailedAt: f.state.firstFailedAt });
    const facts = { attempt: f.attempt, error: f.error, now };
    if (decision.action === 'retry') {
      const topic = this.deps.topics.retry(decision.tier);
      log.warn({ attempt: f.attempt, tier: decision.tier, dueAt: decision.dueAt, err: errorMessage(f.error) }, 'attempt failed, retrying');
      this.deps.metrics.retries.inc({ tier: String(decision.tier) });
      return { outcome: 'retried', outputs: [retryRecord(record, f.state, { ...facts, topic, dueAt: decision.dueAt })] };
    }
    log.error({ attempt: f.attempt, reason: decision.reason, err: errorMessage(f.error) }, 'dead-lettered');
    this.deps.metrics.deadLetters.inc({ reason: decision.reason });
    const dead = deadLetterRecord(record, f.state, { ...facts, topic: this.deps.topics.dlq, reason: decision.reason });
    const subject = callback ? subjectOf(callback) : envelopeSubject(record);
    if (!subject) {
      log.error('no event-id header or key: dead-lettered without a result');
      return { outcome: 'dead-lettered', outputs: [dead] };
    }
    // A malformed record made no downstream call in this attempt.
    const attempts = decision.ending === 'malformed' ? f.state.previousAttempts : f.attempt;
    const ended = await this.ended(record, subject, decision.ending, {
      attempts,
      threshold: f.threshold,
      downstreamStatus: downstreamStatus(f.error),
    });
    return { outcome: 'dead-lettered', outputs: [dead, ...ended.outputs] };
  }

  private async ended(
    record: ConsumedRecord,
    subject: ResultSubject,
    ending: Ending,
    details: { attempts: number; threshold: number | null; downstreamStatus: number | null; response?: string | null },
  ): Promise<Completion> {
    const now = this.now();
    const result = buildResult(subjectOf(subject), ending, { ...details, now });
    this.deps.metrics.results.inc({ route: result.route, ack_status: result.ackStatus });
    this.deps.metrics.endToEndLatency.observe(result.latencyMs / 1_000);
    const output: OutRecord = {
      topic: this.deps.topics.results,
      key: result.sessionId,
      value: await this.deps.encodeResult(result),
      headers: resultHeaders(subject, record),
    };
    if (this.deps.logger.isLevelEnabled('debug')) {
      this.logFor(record, subject).debug({ route: result.route, ackStatus: result.ackStatus, attempts: result.attempts }, 'result');
    }
    const outcome = ending === 'fulfilled' ? 'fulfilled' : ending === 'fallback' ? 'fallback' : 'dead-lettered';
    return { outcome, outputs: [output] };
  }

  private logFor(record: ConsumedRecord, callback: ResultSubject | undefined): Logger {
    const identity = callback ?? identityFromEnvelope(record);
    return messageLogger(this.deps.logger, {
      eventId: identity?.eventId,
      correlationId: identity?.correlationId,
      sessionId: identity?.sessionId,
    }).child({ topic: record.topic, partition: record.partition, offset: record.offset });
  }
}

/** What a decoded callback must carry to be answered (the stage decoder's check). */
export function lacksCallbackIdentity(callback: CognigyCallback): string | undefined {
  for (const field of ['eventId', 'correlationId', 'sessionId', 'receivedAt'] as const) {
    if (typeof callback[field] !== 'string' || callback[field] === '') return `no ${field}`;
  }
  return undefined;
}

function subjectOf(s: ResultSubject): ResultSubject {
  return {
    eventId: s.eventId,
    correlationId: s.correlationId,
    sessionId: s.sessionId,
    intent: s.intent,
    confidence: s.confidence,
    receivedAt: s.receivedAt,
  };
}

function envelopeSubject(record: ConsumedRecord): ResultSubject | undefined {
  const identity = identityFromEnvelope(record);
  return identity ? { ...identity, intent: null, confidence: null } : undefined;
}

function downstreamRequest(callback: CognigyCallback, record: ConsumedRecord): DownstreamRequest {
  return {
    eventId: callback.eventId,
    correlationId: callback.correlationId,
    sessionId: callback.sessionId,
    intent: callback.intent,
    entities: parseEntities(callback.entities),
    traceparent: record.headers.traceparent,
  };
}

/** Entities travel as JSON text in the Avro record; the downstream gets them as JSON. */
function parseEntities(entities: string | null): unknown {
  if (entities === null) return null;
  try {
    return JSON.parse(entities);
  } catch {
    return entities;
  }
}
