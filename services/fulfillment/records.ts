import { Header } from '../../shared/headers.js';
import { deadLetterRecord as kitDeadLetter, failureHeaders, readFirstFailedAt, type Failure } from '../../shared/stage/dead-letter.js';
import type { ConsumedRecord, OutRecord } from '../../shared/stage/records.js';
import type { DlqReason } from './decisions.js';

/**
 * Where a record stands in its retry cycle, and the retry and DLQ records fulfillment writes, as
 * plain data. The failure headers themselves are the stage kit's (shared/stage/dead-letter.ts).
 */

/** Where a record stands in its retry cycle, read from its topic and headers. */
export interface AttemptState {
  /** Attempts already made (and failed) in this cycle; the current attempt is this + 1. */
  previousAttempts: number;
  /** Start of the retry window; undefined before the first failure. */
  firstFailedAt: number | undefined;
  /** Re-sent from the DLQ by an operator: a fresh cycle starts. */
  redriven: boolean;
}

/**
 * `tierOf(topic)` is 0 for the callbacks topic and n for retry tier n. A redriven record (header
 * `redriven-from`) starts over: attempts from 0 and a new retry window, whatever its old headers say.
 */
export function attemptState(record: ConsumedRecord, tierOf: (topic: string) => number): AttemptState {
  const h = record.headers;
  const redriven = h[Header.redrivenFrom] !== undefined;
  if (redriven) return { previousAttempts: 0, firstFailedAt: undefined, redriven };
  const tier = tierOf(record.topic);
  const fromHeader = Number(h[Header.retryAttempt]);
  const previousAttempts = tier === 0 ? 0 : Number.isInteger(fromHeader) && fromHeader > 0 ? fromHeader : tier;
  return { previousAttempts, firstFailedAt: tier > 0 ? readFirstFailedAt(h) : undefined, redriven };
}

/** `retry-due-at` of a record on a retry tier; 0 (due now) when absent or unreadable. */
export function dueAt(record: Pick<ConsumedRecord, 'headers'>): number {
  const due = Number(record.headers[Header.retryDueAt]);
  return Number.isFinite(due) ? due : 0;
}

/** The facts of a failed attempt: which one, what went wrong, when. */
export interface AttemptFailure {
  attempt: number;
  error: unknown;
  now: number;
}

function failureOf(state: AttemptState, f: AttemptFailure): Failure {
  return { error: f.error, attempt: f.attempt, now: f.now, firstFailedAt: state.firstFailedAt };
}

/**
 * The original bytes on retry tier `topic`, due at `dueAt`. `redriven-from` is not carried on:
 * it marks the start of a cycle, and this record continues one.
 */
export function retryRecord(record: ConsumedRecord, state: AttemptState, f: AttemptFailure & { topic: string; dueAt: number }): OutRecord {
  const headers = failureHeaders(record, failureOf(state, f), { keepRedrivenFrom: false });
  headers[Header.retryDueAt] = String(f.dueAt);
  return { topic: f.topic, key: record.key, value: record.value, headers };
}

/** The original bytes on the DLQ, with the error headers and why it was dead-lettered. */
export function deadLetterRecord(record: ConsumedRecord, state: AttemptState, f: AttemptFailure & { topic: string; reason: DlqReason }): OutRecord {
  return kitDeadLetter(record, f.topic, f.reason, failureOf(state, f));
}

/**
 * The headers every result carries: event-id, correlation-id, received-at, traceparent when given,
 * and callback-partition/callback-offset: where the callback was written by the ingress (from the
 * `original-*` headers once it went through a retry tier or the DLQ), so readers of results can
 * tell a session's newer callback from an older one whose result came late.
 */
export function resultHeaders(
  subject: { eventId: string; correlationId: string; receivedAt: string | null },
  record: Pick<ConsumedRecord, 'headers' | 'partition' | 'offset'>,
): Record<string, string> {
  const headers: Record<string, string> = {
    [Header.eventId]: subject.eventId,
    [Header.correlationId]: subject.correlationId,
    [Header.callbackPartition]: record.headers[Header.originalPartition] ?? String(record.partition),
    [Header.callbackOffset]: record.headers[Header.originalOffset] ?? String(record.offset),
  };
  const receivedAt = record.headers[Header.receivedAt] ?? subject.receivedAt;
  if (receivedAt) headers[Header.receivedAt] = receivedAt;
  const traceparent = record.headers[Header.traceparent];
  if (traceparent) headers[Header.traceparent] = traceparent;
  return headers;
}

/**
 * For a record whose value cannot be decoded: the identity a result needs, from the key
 * (sessionId) and the `event-id` header. Without both no result can be acknowledged, so the
 * record goes to the DLQ only.
 */
export function identityFromEnvelope(
  record: ConsumedRecord,
): { eventId: string; sessionId: string; correlationId: string; receivedAt: string | null } | undefined {
  const eventId = record.headers[Header.eventId];
  const sessionId = record.key?.toString();
  if (!eventId || !sessionId) return undefined;
  return {
    eventId,
    sessionId,
    correlationId: record.headers[Header.correlationId] ?? eventId,
    receivedAt: record.headers[Header.receivedAt] ?? null,
  };
}
