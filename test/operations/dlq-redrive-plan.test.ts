import { describe, expect, it } from 'vitest';
import { topicNames } from '../../shared/topics.js';
import { matches, newestFirst, parseDlqFilter, type DeadLetterRecord, type DlqFilter } from '../../shared/operations/dlq-filter.js';
import {
  decodeProgress,
  encodeProgress,
  isSettled,
  planRedrive,
  redriveDecision,
  type PartitionProgress,
} from '../../shared/operations/dlq-redrive-plan.js';

const topics = topicNames('p.');
const NOW = 1_700_000_000_000;
const all: DlqFilter = { reasons: [], errorClasses: [], originalTopics: [] };

function deadLetter(partition: number, offset: number, over: Partial<Record<string, string>> = {}, timestamp = NOW - 1_000): DeadLetterRecord {
  return {
    topic: topics.dlq,
    partition,
    offset,
    timestamp,
    key: Buffer.from(`session-${offset}`),
    value: Buffer.from([0, 0, 0, 0, 1, offset]),
    headers: {
      'event-id': `evt-${partition}-${offset}`,
      'correlation-id': `corr-${offset}`,
      'received-at': '2024-05-01T10:00:00.000Z',
      'original-topic': topics.callbacks,
      'original-partition': String(partition),
      'original-offset': String(offset * 10),
      'retry-attempt': '4',
      'retry-due-at': '123',
      'first-failed-at': '2023-11-14T22:13:20.000Z',
      'error-class': 'DownstreamUnavailable',
      'error-message': 'HTTP 503',
      'dlq-reason': 'retries-exhausted',
      ...over,
    } as Record<string, string>,
  };
}

const decide = (record: DeadLetterRecord) => redriveDecision(record, topics.dlq, topics, NOW);

function plan(records: DeadLetterRecord[], progress: PartitionProgress, filter = all, high = 100, metadataLimit?: number) {
  return planRedrive({ records, progress: new Map([[0, progress]]), high: new Map([[0, high]]), filter, decide, metadataLimit });
}

describe('a redriven dead letter', () => {
  it('goes to the first retry tier with its original key and bytes, a redriven-from header and due now', () => {
    const record = deadLetter(2, 7);
    const decision = redriveDecision(record, topics.dlq, topics, NOW);
    expect(decision).toMatchObject({ action: 'redrive', topic: 'p.cognigy.callbacks.retry.1', key: record.key, value: record.value });
    if (decision.action !== 'redrive') return;
    expect(decision.headers).toEqual({
      'event-id': 'evt-2-7',
      'correlation-id': 'corr-7',
      'received-at': '2024-05-01T10:00:00.000Z',
      'original-topic': 'p.cognigy.callbacks.v1',
      'original-partition': '2',
      'original-offset': '70',
      'retry-attempt': '0',
      'retry-due-at': String(NOW),
      'redriven-from': 'p.cognigy.callbacks.dlq:2:7',
    });
  });

  it('from a retry tier is a callback too', () => {
    expect(decide(deadLetter(0, 1, { 'original-topic': topics.retry(3) })).action).toBe('redrive');
  });

  it('is never a result the ack aggregator dead-lettered, nor a record of unknown origin', () => {
    expect(decide(deadLetter(0, 1, { 'original-topic': topics.results }))).toEqual({ action: 'skip', why: 'results-consumer' });
    expect(decide(deadLetter(0, 1, { 'original-topic': 'other.topic' }))).toEqual({ action: 'skip', why: 'unknown-origin' });
    expect(decide(deadLetter(0, 1, { 'original-topic': 'p.cognigy.callbacks.retry.x' }))).toEqual({ action: 'skip', why: 'unknown-origin' });
  });
});

describe('redrive progress', () => {
  it('round-trips through the committed offset and its metadata', () => {
    const progress = { next: 5, ranges: [[7, 9], [12, 12]] as [number, number][] };
    const { offset, metadata } = encodeProgress(progress);
    expect(metadata).toBe('redrive/v1 7-9,12');
    expect(decodeProgress(Number(offset), metadata, 0)).toEqual(progress);
  });

  it('starts at the first retained offset when retention deleted older dead letters', () => {
    expect(decodeProgress(3, 'redrive/v1 5,9', 8)).toEqual({ next: 8, ranges: [[9, 9]] });
    expect(decodeProgress(null, null, 4)).toEqual({ next: 4, ranges: [] });
  });

  it('moves everything once, and nothing on the second run', () => {
    const records = [0, 1, 2, 3].map((o) => deadLetter(0, o));
    const first = plan(records, { next: 0, ranges: [] }, all, 4);
    expect(first.moves.map((m) => m.record.offset)).toEqual([0, 1, 2, 3]);
    expect(first.progress.get(0)).toEqual({ next: 4, ranges: [] });
    const second = plan([], first.progress.get(0) as PartitionProgress, all, 4);
    expect(second.moves).toHaveLength(0);
    expect(second.changed).toEqual([]);
  });

  it('after a filtered run keeps unselected dead letters for later and never repeats the selected ones', () => {
    const records = [0, 1, 2, 3, 4].map((o) => deadLetter(0, o, { 'dlq-reason': o % 2 === 0 ? 'non-retriable' : 'retries-exhausted' }));
    const exhausted = parseDlqFilter({ reason: ['retries-exhausted'] }, Number);
    const first = plan(records, { next: 0, ranges: [] }, exhausted, 5);
    expect(first.moves.map((m) => m.record.offset)).toEqual([1, 3]);
    expect(first.notSelected).toBe(3);
    const after = first.progress.get(0) as PartitionProgress;
    expect(after).toEqual({ next: 0, ranges: [[1, 1], [3, 3]] });

    const again = plan(records, after, exhausted, 5);
    expect(again.moves).toHaveLength(0);
    expect(again.alreadyRedriven).toBe(2);

    const rest = plan(records, after, all, 5);
    expect(rest.moves.map((m) => m.record.offset)).toEqual([0, 2, 4]);
    expect(rest.progress.get(0)).toEqual({ next: 5, ranges: [] });
  });

  it('merges settled records across offsets that hold no record (transaction markers)', () => {
    const records = [0, 2, 4, 6].map((o) => deadLetter(0, o, { 'dlq-reason': o === 0 ? 'keep' : 'go' }));
    const result = plan(records, { next: 0, ranges: [] }, parseDlqFilter({ reason: ['go'] }, Number), 8);
    expect(result.progress.get(0)).toEqual({ next: 0, ranges: [[2, 6]] });
    expect(isSettled(result.progress.get(0) as PartitionProgress, 4)).toBe(true);
    expect(isSettled(result.progress.get(0) as PartitionProgress, 0)).toBe(false);
  });

  it('counts skipped ack-stage letters once and lets progress pass them', () => {
    const records = [deadLetter(0, 0, { 'original-topic': topics.results }), deadLetter(0, 1)];
    const result = plan(records, { next: 0, ranges: [] }, all, 2);
    expect(result.skipped['results-consumer']).toBe(1);
    expect(result.moves).toHaveLength(1);
    expect(result.progress.get(0)).toEqual({ next: 2, ranges: [] });
  });

  it('defers what no longer fits in the progress record instead of risking a second redrive', () => {
    const records = Array.from({ length: 40 }, (_, o) => deadLetter(0, o, { 'dlq-reason': o % 2 === 0 ? 'keep' : 'go' }));
    const result = plan(records, { next: 0, ranges: [] }, parseDlqFilter({ reason: ['go'] }, Number), 40, 30);
    expect(result.moves.length).toBeGreaterThan(0);
    expect(result.deferred).toBe(20 - result.moves.length);
    expect(encodeProgress(result.progress.get(0) as PartitionProgress).metadata.length).toBeLessThanOrEqual(30);
  });
});

describe('dead-letter filters', () => {
  it('match on reason, error class, original topic and time, any of the repeated values', () => {
    const record = deadLetter(0, 1, {}, 5_000);
    const f = (over: Partial<DlqFilter>) => matches(record, { ...all, ...over });
    expect(f({ reasons: ['non-retriable', 'retries-exhausted'] })).toBe(true);
    expect(f({ reasons: ['non-retriable'] })).toBe(false);
    expect(f({ errorClasses: ['DownstreamUnavailable'] })).toBe(true);
    expect(f({ originalTopics: [topics.results] })).toBe(false);
    expect(f({ since: 5_000, until: 5_001 })).toBe(true);
    expect(f({ until: 5_000 })).toBe(false);
  });

  it('refuses a time range that ends before it starts', () => {
    expect(() => parseDlqFilter({ since: '2', until: '1' }, Number)).toThrow(/earlier/);
  });

  it('orders newest first', () => {
    const records = [deadLetter(0, 1, {}, 10), deadLetter(1, 1, {}, 30), deadLetter(0, 2, {}, 20)];
    expect(records.sort(newestFirst).map((r) => r.timestamp)).toEqual([30, 20, 10]);
  });
});
