/**
 * What the console's JSON API answers: the contract between the server (app.ts) and the page
 * (public/console.js). Times are ISO text, counts plain numbers; nothing here ever carries a secret.
 *
 * Routes (every one needs the token, as `Authorization: Bearer <token>` or the login cookie):
 *   GET  /api/session                         SessionView
 *   GET  /api/flow                            FlowView
 *   GET  /api/dead-letters?<DeadLetterQuery>  DeadLetterPage
 *   GET  /api/dead-letters/:partition/:offset DeadLetterDetail
 *   POST /api/dead-letters/redrive            RedriveRequest -> RedriveView   (actions only)
 *   GET  /api/batches?limit=N                 BatchesView
 *   GET  /api/events/:eventId                 EventPath
 *   GET  /api/replay/plan?group=&topic=&to=   ReplayView
 *   POST /api/replay                          ReplayRequest -> ReplayView      (actions only)
 * An error is `{ "error": "<what is wrong>", "field"?: "<query or body field at fault>" }` with
 * 400 (bad input), 401 (no or wrong token), 403 (actions off), 404, 409 (refused) or 503 (Kafka).
 */
import type { DeadLetterView } from '../../shared/operations/dlq-filter.js';

export interface SessionView {
  actionsAllowed: boolean;
  /** How often the page should ask for /api/flow again. */
  refreshMs: number;
  topics: { callbacks: string; results: string; dlq: string; batches: string };
  /** The consumer groups a replay can be planned for, each with the topics it reads. */
  groups: { group: string; topics: string[] }[];
}

/** A counter: its total since the services started and its rate over the last refresh interval. */
export interface Rate {
  total: number;
  /** null until two samples exist. */
  perSecond: number | null;
}

export type BreakerState = 'closed' | 'half-open' | 'open' | 'unknown';

export interface LagRow {
  group: string;
  topic: string;
  partition: number;
  /** null when the group never committed on this partition. */
  committed: number | null;
  high: number;
  lag: number;
}

export interface FlowView {
  at: string;
  received: Rate;
  /** By route: FULFILLED, FALLBACK, REJECTED, FAILED. */
  fulfilled: Record<string, Rate>;
  /** By retry tier: "1", "2", ... */
  retried: Record<string, Rate>;
  /** By dlq-reason, every stage together. */
  deadLettered: Record<string, Rate>;
  /** Items Cognigy reported as processed. */
  acknowledged: Rate;
  /** Batches Cognigy accepted. */
  batches: Rate;
  sessionWrites: Rate;
  lag: LagRow[];
  breaker: { state: BreakerState; halfOpenAt: string | null };
  /** The metrics endpoints asked, and whether they answered. */
  sources: { url: string; ok: boolean; error?: string }[];
}

/** Query of GET /api/dead-letters; every field optional. */
export interface DeadLetterQuery {
  reason?: string;
  errorClass?: string;
  originalTopic?: string;
  /** The Cognigy session (the record key). */
  session?: string;
  /** A duration ago (15m, 2h) or an ISO time with a zone. */
  since?: string;
  until?: string;
  /** 0-based. */
  page?: number;
  /** 1..200, 50 when absent. */
  pageSize?: number;
}

/** A dead letter as `dlq list` shows it, with its session instead of the raw key. */
export interface DeadLetterRow extends Omit<DeadLetterView, 'key'> {
  sessionId: string | null;
  /** A redrive has sent it back (or settled it: see the CLI's redrive). */
  redriven: boolean;
}

export interface DeadLetterPage {
  /** Records in the DLQ (as read so far). */
  total: number;
  matching: number;
  page: number;
  pageSize: number;
  rows: DeadLetterRow[];
  /** Counts of the matching records, for the filter's choices. */
  reasons: Record<string, number>;
  errorClasses: Record<string, number>;
}

export interface DeadLetterDetail {
  row: DeadLetterRow;
  headers: Record<string, string>;
  /** The record's value decoded through the schema registry (a callback, a result or a batch). */
  value: unknown;
  decodeError: string | null;
  /** The original Cognigy body of a dead-lettered callback, parsed as JSON when it is JSON. */
  body: unknown;
}

export interface RedriveRequest {
  /** Either a selection of dead letters or a filter (the list's query fields). */
  selection?: { partition: number; offset: number }[];
  filter?: Omit<DeadLetterQuery, 'page' | 'pageSize'>;
  /** false: a dry run that only counts. */
  execute: boolean;
}

export interface RedriveView {
  outcome: 'refused' | 'nothing-to-do' | 'planned' | 'applied';
  /** Would be (dry run) or were moved. */
  selected: number;
  moved: number;
  alreadyRedriven: number;
  notSelected: number;
  skipped: Record<string, number>;
  deferred: number;
  message: string;
}

export interface BatchRow {
  batchId: string;
  idempotencyKey: string;
  size: number;
  phase: 'PLANNED' | 'ACCEPTED' | 'DEAD_LETTERED';
  plannedAt: string;
  resolvedAt: string | null;
  latencyMs: number | null;
  processedCount: number | null;
  failedCount: number | null;
  /** processedCount / size once Cognigy answered with counts. */
  ackRate: number | null;
}

export interface BatchesView {
  batches: BatchRow[];
  /** Over the batches listed that have one. */
  ackRate: number | null;
}

export interface EventPath {
  eventId: string;
  found: boolean;
  accepted: { at: string; topic: string; partition: number; offset: number; sessionId: string | null } | null;
  results: { at: string; partition: number; offset: number; route: string; ackStatus: string; attempts: number; latencyMs: number }[];
  batches: {
    batchId: string;
    idempotencyKey: string;
    phase: 'PLANNED' | 'ACCEPTED' | 'DEAD_LETTERED';
    at: string;
    sequenceIndex: number;
    status: string;
    latencyMs: number | null;
    processedCount: number | null;
    failedCount: number | null;
  }[];
  deadLetters: { partition: number; offset: number; at: string; reason: string; redriven: boolean }[];
}

export interface ReplayPartitionRow {
  partition: number;
  current: number | null;
  target: number;
  reprocess: number | null;
  skip: number;
  lagNow: number | null;
  lagAfter: number;
  change: boolean;
  note: string | null;
}

export interface ReplayView {
  group: string;
  topic: string;
  /** What `to` meant: a time, the earliest offsets. */
  target: string;
  groupState: string;
  activeMembers: number;
  outcome: 'refused' | 'nothing-to-do' | 'planned' | 'applied';
  partitions: ReplayPartitionRow[];
  totalReprocess: number;
  totalSkip: number;
  message: string;
}

export interface ReplayRequest {
  group: string;
  topic: string;
  /** earliest, a duration ago (1h) or an ISO time with a zone. */
  to: string;
  /** Must equal `group`: the operator typed the group's name. */
  confirmGroup: string;
}
