import { errorClass, errorMessage } from '../../shared/errors.js';
import { Header, truncateErrorMessage } from '../../shared/headers.js';
import type { DlqReason } from './decisions.js';

/**
 * The records fulfillment reads and writes, as plain data, and the headers of DESIGN "Topics and
 * contracts" on retry and DLQ records. Pure: the Kafka adapters convert to and from kafkajs.
 */

export interface InRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface OutRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Where a record stands in its retry cycle, read from its topic and headers. */
export interface AttemptState {
  /** Attempts already made (and failed) in this cycle; the current attempt is this + 1. */
  previousAttempts: number;
  /** Start of the retry window; undefined before the first failure. */
  firstFailedAt: number | undefined;
  /** The callbacks-topic record this one stems from. */
  original: { topic: string; partition: string; offset: string };
  /** Re-sent from the DLQ by an operator: a fresh cycle starts. */
  redriven: boolean;
}

/** Headers that describe one retry cycle; they are rewritten, never copied, onto the next record. */
const CYCLE_HEADERS: ReadonlySet<string> = new Set([
  Header.retryAttempt,
  Header.retryDueAt,
  Header.errorClass,
  Header.errorMessage,
  Header.dlqReason,
]);

/**
 * `tierOf(topic)` is 0 for the callbacks topic and n for retry tier n. A redriven record (header
 * `redriven-from`) starts over: attempts from 0 and a new retry window, whatever its old headers say.
 */
export function attemptState(record: InRecord, tierOf: (topic: string) => number): AttemptState {
  const h = record.headers;
  const original = {
    topic: h[Header.originalTopic] ?? record.topic,
    partition: h[Header.originalPartition] ?? String(record.partition),
    offset: h[Header.originalOffset] ?? record.offset,
  };
  const redriven = h[Header.redrivenFrom] !== undefined;
  if (redriven) return { previousAttempts: 0, firstFailedAt: undefined, original, redriven };
  const tier = tierOf(record.topic);
  const fromHeader = Number(h[Header.retryAttempt]);
  const previousAttempts = tier === 0 ? 0 : Number.isInteger(fromHeader) && fromHeader > 0 ? fromHeader : tier;
  const firstFailedAt = Number(h[Header.firstFailedAt]);
  return {
    previousAttempts,
    firstFailedAt: tier > 0 && Number.isFinite(firstFailedAt) ? firstFailedAt : undefined,
    original,
    redriven,
  };
}

/** `retry-due-at` of a record on a retry tier; 0 (due now) when absent or unreadable. */
export function dueAt(record: Pick<InRecord, 'headers'>): number {
  const due = Number(record.headers[Header.retryDueAt]);
  return Number.isFinite(due) ? due : 0;
}

interface FailureFacts {
  /** The attempt that failed (1-based). */
  attempt: number;
  error: unknown;
  now: number;
}

function failureHeaders(record: InRecord, state: AttemptState, facts: FailureFacts, keepRedrivenFrom: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (CYCLE_HEADERS.has(name)) continue;
    if (name === Header.redrivenFrom && !keepRedrivenFrom) continue;
    headers[name] = value;
  }
  headers[Header.originalTopic] = state.original.topic;
  headers[Header.originalPartition] = state.original.partition;
  headers[Header.originalOffset] = state.original.offset;
  headers[Header.firstFailedAt] = String(state.firstFailedAt ?? facts.now);
  headers[Header.retryAttempt] = String(facts.attempt);
  headers[Header.errorClass] = errorClass(facts.error);
  headers[Header.errorMessage] = truncateErrorMessage(errorMessage(facts.error));
  return headers;
}

/**
 * The original bytes on retry tier `tier`, due at `dueAt`. `redriven-from` is not carried on:
 * it marks the start of a cycle, and this record continues one.
 */
export function retryRecord(record: InRecord, state: AttemptState, facts: FailureFacts & { topic: string; dueAt: number }): OutRecord {
  const headers = failureHeaders(record, state, facts, false);
  headers[Header.retryDueAt] = String(facts.dueAt);
  return { topic: facts.topic, key: record.key, value: record.value, headers };
}

/** The original bytes on the DLQ, with the error headers and why it was dead-lettered. */
export function deadLetterRecord(record: InRecord, state: AttemptState, facts: FailureFacts & { topic: string; reason: DlqReason }): OutRecord {
  const headers = failureHeaders(record, state, facts, true);
  headers[Header.dlqReason] = facts.reason;
  return { topic: facts.topic, key: record.key, value: record.value, headers };
}

/** The headers every result carries: event-id, correlation-id, received-at, traceparent when given. */
export function resultHeaders(
  subject: { eventId: string; correlationId: string; receivedAt: string | null },
  record: Pick<InRecord, 'headers'>,
): Record<string, string> {
  const headers: Record<string, string> = {
    [Header.eventId]: subject.eventId,
    [Header.correlationId]: subject.correlationId,
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
  record: InRecord,
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
