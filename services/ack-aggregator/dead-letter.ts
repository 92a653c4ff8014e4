import { Header, truncateErrorMessage } from '../../shared/headers.js';

/** A result record as delivered, kept while its ack is pending so it can be dead-lettered as it was. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** The record's Kafka timestamp (epoch ms). */
  timestamp: number;
}

export const DlqReason = {
  /** The result cannot become a valid ack item (undecodable, or a status/directive Cognigy refuses). */
  invalidAckItem: 'invalid-ack-item',
  /** Cognigy answered 400 to the batch the result was in. */
  batchRejected: 'ack-batch-rejected',
} as const;

export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** The original bytes and headers, plus where the record came from and why it is here. */
export function deadLetter(
  source: SourceRecord,
  why: { reason: (typeof DlqReason)[keyof typeof DlqReason]; errorClass: string; errorMessage: string },
  now: Date,
): DeadLetter {
  return {
    key: source.key,
    value: source.value,
    headers: {
      ...source.headers,
      [Header.originalTopic]: source.topic,
      [Header.originalPartition]: String(source.partition),
      [Header.originalOffset]: String(source.offset),
      [Header.firstFailedAt]: source.headers[Header.firstFailedAt] ?? now.toISOString(),
      [Header.errorClass]: why.errorClass,
      [Header.errorMessage]: truncateErrorMessage(why.errorMessage),
      [Header.dlqReason]: why.reason,
    },
  };
}
