import { createHash } from 'node:crypto';
import { Header } from '../headers.js';
import type { OutRecord } from './records.js';

/**
 * What a dead-letter notification says, read from the DLQ record's own headers (DESIGN "Topics and
 * contracts"), and the webhook-id it is sent under. Pure.
 */

export const DEAD_LETTER_NOTICE_TYPE = 'dead_letter.written';

/** The body of a notification, in the Standard Webhooks payload shape (`type`, `timestamp`, `data`). */
export interface DeadLetterNotice {
  type: typeof DEAD_LETTER_NOTICE_TYPE;
  /** When the notice was made: just after the dead letter was durably written. */
  timestamp: string;
  data: {
    /** The service that wrote the dead letter. */
    service: string;
    eventId: string | null;
    correlationId: string | null;
    sessionId: string | null;
    reason: string | null;
    errorClass: string | null;
    /** Attempts made, for stages that retry (`retry-attempt`). */
    attempts: number | null;
    firstFailedAt: string | null;
    /** Where the record first entered the pipeline's retry cycle. */
    original: { topic: string | null; partition: number | null; offset: number | null };
    deadLetter: { topic: string };
  };
}

function integer(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

function keyText(key: OutRecord['key']): string | null {
  if (key === null) return null;
  return typeof key === 'string' ? key : key.toString('utf8');
}

export function deadLetterNotice(record: OutRecord, service: string, now: number): DeadLetterNotice {
  const h = record.headers;
  return {
    type: DEAD_LETTER_NOTICE_TYPE,
    timestamp: new Date(now).toISOString(),
    data: {
      service,
      eventId: h[Header.eventId] ?? null,
      correlationId: h[Header.correlationId] ?? null,
      sessionId: keyText(record.key),
      reason: h[Header.dlqReason] ?? null,
      errorClass: h[Header.errorClass] ?? null,
      attempts: integer(h[Header.retryAttempt]),
      firstFailedAt: h[Header.firstFailedAt] ?? null,
      original: {
        topic: h[Header.originalTopic] ?? null,
        partition: integer(h[Header.originalPartition]),
        offset: integer(h[Header.originalOffset]),
      },
      deadLetter: { topic: record.topic },
    },
  };
}

/**
 * The webhook-id of a dead letter: the same for every write of the same dead letter (a repeat after
 * a crash, a transaction retried), so a receiver can drop a resend; different for a new one.
 *
 * The original topic/partition/offset and the reason name the dead letter. They are not enough
 * alone: a redriven record keeps its original coordinates and can be dead-lettered again for the
 * same reason. So the retry cycle is part of the id: a redriven record carries `redriven-from`
 * (unique per redrive) until its first retry, and from the second attempt on `first-failed-at` is
 * the cycle's start read back from the record, which a repeat reproduces exactly. At the first
 * attempt of a cycle that was not redriven there is only one cycle, and `first-failed-at` (the
 * time of processing, different in a repeat) is left out.
 */
export function deadLetterWebhookId(record: OutRecord): string {
  const h = record.headers;
  const attempts = integer(h[Header.retryAttempt]) ?? 0;
  const cycle = h[Header.redrivenFrom] ?? (attempts > 1 ? (h[Header.firstFailedAt] ?? '') : '');
  const material = JSON.stringify([
    record.topic,
    h[Header.originalTopic] ?? '',
    h[Header.originalPartition] ?? '',
    h[Header.originalOffset] ?? '',
    h[Header.dlqReason] ?? '',
    h[Header.eventId] ?? '',
    cycle,
  ]);
  return `dlq_${createHash('sha256').update(material).digest('base64url').slice(0, 32)}`;
}
