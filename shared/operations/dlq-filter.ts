import { Header } from '../headers.js';
import type { ConsumedRecord } from '../stage/records.js';
import { table } from './output.js';
import { formatAge, UsageError } from './time-spec.js';

/** A record of the DLQ as read: its timestamp is when it was dead-lettered. */
export type DeadLetterRecord = ConsumedRecord;

/** What an operator sees of one dead letter. */
export interface DeadLetterView {
  partition: number;
  offset: number;
  deadLetteredAt: string;
  ageMs: number;
  reason: string;
  errorClass: string;
  errorMessage: string;
  originalTopic: string;
  originalPartition: string;
  originalOffset: string;
  attempts: string;
  eventId: string;
  correlationId: string;
  key: string | null;
}

export function viewOf(record: DeadLetterRecord, now: number): DeadLetterView {
  const h = (name: string) => record.headers[name] ?? '';
  return {
    partition: record.partition,
    offset: record.offset,
    deadLetteredAt: new Date(record.timestamp).toISOString(),
    ageMs: Math.max(0, now - record.timestamp),
    reason: h(Header.dlqReason),
    errorClass: h(Header.errorClass),
    errorMessage: h(Header.errorMessage),
    originalTopic: h(Header.originalTopic),
    originalPartition: h(Header.originalPartition),
    originalOffset: h(Header.originalOffset),
    attempts: h(Header.retryAttempt),
    eventId: h(Header.eventId),
    correlationId: h(Header.correlationId),
    key: record.key?.toString() ?? null,
  };
}

/** Which dead letters a list or a redrive is about; empty lists match everything. */
export interface DlqFilter {
  reasons: string[];
  errorClasses: string[];
  originalTopics: string[];
  /** Dead-lettered at or after (epoch ms). */
  since?: number;
  /** Dead-lettered before (epoch ms). */
  until?: number;
  /** Cognigy sessions (the record key). */
  sessions?: string[];
  /** Single dead letters as `partition:offset` (a selection in the console). */
  positions?: string[];
}

export function parseDlqFilter(
  options: { reason?: string[]; 'error-class'?: string[]; 'original-topic'?: string[]; since?: string; until?: string },
  parseInstant: (text: string) => number,
): DlqFilter {
  const filter: DlqFilter = {
    reasons: options.reason ?? [],
    errorClasses: options['error-class'] ?? [],
    originalTopics: options['original-topic'] ?? [],
    since: options.since === undefined ? undefined : parseInstant(options.since),
    until: options.until === undefined ? undefined : parseInstant(options.until),
  };
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) {
    throw new UsageError('--since must be earlier than --until');
  }
  return filter;
}

export function isFiltered(filter: DlqFilter): boolean {
  return (
    filter.reasons.length + filter.errorClasses.length + filter.originalTopics.length > 0 ||
    filter.since !== undefined ||
    filter.until !== undefined ||
    (filter.sessions?.length ?? 0) > 0 ||
    (filter.positions?.length ?? 0) > 0
  );
}

/** Whether a value passes a list of wanted values; an empty (or no) list wants everything. */
function passes(wanted: readonly string[] | undefined, value: string | undefined): boolean {
  return wanted === undefined || wanted.length === 0 || wanted.includes(value ?? '');
}

/** Called per record of a whole topic: the key and the position are only made text when asked about. */
export function matches(record: DeadLetterRecord, filter: DlqFilter): boolean {
  const { sessions, positions } = filter;
  return (
    passes(filter.reasons, record.headers[Header.dlqReason]) &&
    passes(filter.errorClasses, record.headers[Header.errorClass]) &&
    passes(filter.originalTopics, record.headers[Header.originalTopic]) &&
    (filter.since === undefined || record.timestamp >= filter.since) &&
    (filter.until === undefined || record.timestamp < filter.until) &&
    (sessions === undefined || sessions.length === 0 || passes(sessions, record.key?.toString())) &&
    (positions === undefined || positions.length === 0 || passes(positions, `${record.partition}:${record.offset}`))
  );
}

/** Newest first; ties (same millisecond) by partition and offset so the order is stable. */
export function newestFirst(a: DeadLetterRecord, b: DeadLetterRecord): number {
  return b.timestamp - a.timestamp || a.partition - b.partition || b.offset - a.offset;
}

export function formatList(views: DeadLetterView[]): string[] {
  const header = ['partition:offset', 'age', 'reason', 'error class', 'original', 'attempts', 'event id'];
  const rows = views.map((v) => [
    `${v.partition}:${v.offset}`,
    formatAge(v.ageMs),
    v.reason || '-',
    v.errorClass || '-',
    v.originalTopic ? `${v.originalTopic}[${v.originalPartition}]@${v.originalOffset}` : '-',
    v.attempts || '-',
    v.eventId || '-',
  ]);
  return table([header, ...rows]);
}

/** Counts per reason and error class, so a long list still tells what dominates. */
export function summarize(views: DeadLetterView[]): string[] {
  const counts = new Map<string, number>();
  for (const v of views) {
    const key = `${v.reason || '-'} / ${v.errorClass || '-'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${String(n).padStart(6)}  ${key}`);
}

export function parsePosition(text: string): { partition: number; offset: number } {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (!match) throw new UsageError(`expected PARTITION:OFFSET like 2:118, got "${text}"`);
  return { partition: Number(match[1]), offset: Number(match[2]) };
}
