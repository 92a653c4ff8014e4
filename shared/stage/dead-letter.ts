import { errorClass, errorMessage } from '../errors.js';
import { Header, truncateErrorMessage } from '../headers.js';
import type { ConsumedRecord, OutRecord } from './records.js';

/**
 * The failure headers of DESIGN "Topics and contracts", written one way by every stage so a DLQ
 * reader meets one format: `original-topic/partition/offset` where the record first entered the
 * pipeline's retry cycle, `first-failed-at` as ISO-8601 UTC text, `retry-attempt` (attempts made,
 * when the stage retries), `error-class`, `error-message` (bounded), and on the DLQ `dlq-reason`.
 * `retry-due-at` stays epoch milliseconds, as DESIGN fixes it. Pure.
 */

export interface Failure {
  /** The error, or its class and message when there is no Error object (a refused batch). */
  error: unknown;
  /** Start of the retry cycle (epoch ms); now when this is the first failure. */
  firstFailedAt?: number;
  /** The attempt that failed (1-based), for stages that retry. */
  attempt?: number;
  now: number;
}

/** Headers that describe one retry cycle; they are rewritten, never copied, onto the next record. */
const CYCLE_HEADERS: ReadonlySet<string> = new Set([
  Header.retryAttempt,
  Header.retryDueAt,
  Header.firstFailedAt,
  Header.errorClass,
  Header.errorMessage,
  Header.dlqReason,
]);

/**
 * The source's own headers (cycle headers dropped: they are written anew), where it came from and
 * what went wrong. `redriven-from` marks the start of a cycle and is kept only where asked.
 */
export function failureHeaders(source: ConsumedRecord, failure: Failure, opts: { keepRedrivenFrom: boolean }): Record<string, string> {
  const h = source.headers;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) {
    if (CYCLE_HEADERS.has(name)) continue;
    if (name === Header.redrivenFrom && !opts.keepRedrivenFrom) continue;
    headers[name] = value;
  }
  headers[Header.originalTopic] = h[Header.originalTopic] ?? source.topic;
  headers[Header.originalPartition] = h[Header.originalPartition] ?? String(source.partition);
  headers[Header.originalOffset] = h[Header.originalOffset] ?? String(source.offset);
  headers[Header.firstFailedAt] = new Date(failure.firstFailedAt ?? failure.now).toISOString();
  if (failure.attempt !== undefined) headers[Header.retryAttempt] = String(failure.attempt);
  headers[Header.errorClass] = errorClass(failure.error);
  headers[Header.errorMessage] = truncateErrorMessage(errorMessage(failure.error));
  return headers;
}

/** The original key and bytes on the DLQ, with the failure headers and why it is there. */
export function deadLetterRecord(source: ConsumedRecord, dlqTopic: string, reason: string, failure: Failure): OutRecord {
  const headers = failureHeaders(source, failure, { keepRedrivenFrom: true });
  headers[Header.dlqReason] = reason;
  return { topic: dlqTopic, key: source.key, value: source.value, headers };
}

/**
 * `first-failed-at` of a record as epoch ms. ISO-8601 text is the format; epoch milliseconds, which
 * fulfillment wrote before, are still read so records written by an older version keep their window.
 */
export function readFirstFailedAt(headers: Record<string, string>): number | undefined {
  const text = headers[Header.firstFailedAt];
  if (text === undefined || text === '') return undefined;
  const at = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(at) ? at : undefined;
}

/** An error for a failure known only by class and message (an HTTP answer, a mapping refusal). */
export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}
