import { matches, newestFirst, viewOf, type DeadLetterRecord, type DlqFilter } from '../../shared/operations/dlq-filter.js';
import { isSettled, redriveDecision, type PartitionProgress } from '../../shared/operations/dlq-redrive-plan.js';
import type { TopicNames } from '../../shared/topics.js';
import type { DeadLetterPage, DeadLetterRow } from './views.js';

interface Matching {
  matching: DeadLetterRecord[];
  reasons: Record<string, number>;
  errorClasses: Record<string, number>;
}

/** Filters whose matches are kept: a few operators paging through a few filters each. */
const MATCHES_KEPT = 16;

/**
 * The dead-letter topic as the table shows it, in memory: every record the follower read, the
 * oldest dropped past `max`. Sorted newest first once per change, not per request, so paging
 * through ten thousand dead letters costs a filter and a slice.
 */
export class DeadLetterIndex {
  private records: DeadLetterRecord[] = [];
  private sorted: DeadLetterRecord[] | undefined;
  /** Filter (as JSON) -> what it matches in `sorted`; emptied whenever records arrive. */
  private readonly matches = new Map<string, Matching>();
  private readonly byPosition = new Map<string, DeadLetterRecord>();

  constructor(
    private readonly topics: TopicNames,
    private readonly max: number,
  ) {}

  /** Records already held (a reader that read a partition again) are not added twice. */
  add(records: readonly DeadLetterRecord[]): void {
    for (const record of records) {
      const position = positionOf(record);
      if (this.byPosition.has(position)) continue;
      this.records.push(record);
      this.byPosition.set(position, record);
    }
    if (this.records.length > this.max) {
      const sorted = [...this.records].sort(newestFirst);
      for (const record of sorted.slice(this.max)) this.byPosition.delete(positionOf(record));
      this.records = sorted.slice(0, this.max);
    }
    this.sorted = undefined;
    this.matches.clear();
  }

  get size(): number {
    return this.records.length;
  }

  get(partition: number, offset: number): DeadLetterRecord | undefined {
    return this.byPosition.get(`${partition}:${offset}`);
  }

  /** Dead letters of one event, oldest first. */
  ofEvent(eventId: string): DeadLetterRecord[] {
    return this.newestFirst()
      .filter((r) => r.headers['event-id'] === eventId)
      .reverse();
  }

  page(filter: DlqFilter, page: number, pageSize: number, progress: ReadonlyMap<number, PartitionProgress>, now: number): DeadLetterPage {
    const { matching, reasons, errorClasses } = this.matching(filter);
    const rows = matching.slice(page * pageSize, (page + 1) * pageSize).map((r) => this.row(r, progress, now));
    return { total: this.records.length, matching: matching.length, page, pageSize, rows, reasons: { ...reasons }, errorClasses: { ...errorClasses } };
  }

  /**
   * The records a filter matches, with their counts by reason and error class: worked out once per
   * filter until the next record arrives, so turning pages costs a slice.
   */
  private matching(filter: DlqFilter): Matching {
    const key = JSON.stringify(filter);
    const cached = this.matches.get(key);
    if (cached !== undefined) return cached;
    const matching = this.newestFirst().filter((r) => matches(r, filter));
    const reasons: Record<string, number> = {};
    const errorClasses: Record<string, number> = {};
    for (const r of matching) {
      const reason = r.headers['dlq-reason'] ?? '-';
      const errorClass = r.headers['error-class'] ?? '-';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      errorClasses[errorClass] = (errorClasses[errorClass] ?? 0) + 1;
    }
    if (this.matches.size >= MATCHES_KEPT) this.matches.delete(this.matches.keys().next().value as string);
    const result = { matching, reasons, errorClasses };
    this.matches.set(key, result);
    return result;
  }

  /**
   * A dead letter reads as redriven once the redrive group's progress covers it and it is one a
   * redrive sends back (a callback); results left in the DLQ are settled too, but not redriven.
   */
  row(record: DeadLetterRecord, progress: ReadonlyMap<number, PartitionProgress>, now: number): DeadLetterRow {
    const { key: _key, ...view } = viewOf(record, now);
    const settled = progress.has(record.partition) && isSettled(progress.get(record.partition) as PartitionProgress, record.offset);
    const redriven = settled && redriveDecision(record, this.topics.dlq, this.topics, now).action === 'redrive';
    return { ...view, sessionId: record.key?.toString() ?? null, redriven };
  }

  private newestFirst(): DeadLetterRecord[] {
    this.sorted ??= [...this.records].sort(newestFirst);
    return this.sorted;
  }
}

function positionOf(record: DeadLetterRecord): string {
  return `${record.partition}:${record.offset}`;
}
