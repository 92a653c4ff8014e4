import { describe, expect, it } from 'vitest';
import { DownstreamUnavailable } from '../../services/fulfillment/errors.js';
import { attemptState, deadLetterRecord, dueAt, identityFromEnvelope, resultHeaders, retryRecord } from '../../services/fulfillment/records.js';
import { Header } from '../../shared/headers.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';

const tierOf = (topic: string) => (topic.startsWith('retry.') ? Number(topic.slice(6)) : 0);
const now = 1_700_000_000_000;

function record(overrides: Partial<ConsumedRecord> = {}): ConsumedRecord {
  return {
    topic: 'callbacks',
    partition: 2,
    offset: 41,
    timestamp: now,
    key: Buffer.from('session-1'),
    value: Buffer.from([0, 0, 0, 0, 1, 2]),
    headers: { [Header.eventId]: 'evt-1', [Header.correlationId]: 'corr-1', [Header.receivedAt]: '2026-01-01T00:00:00.000Z' },
    ...overrides,
  };
}

describe('attempt state', () => {
  it('starts at zero attempts on the callbacks topic', () => {
    expect(attemptState(record(), tierOf)).toEqual({ previousAttempts: 0, firstFailedAt: undefined, redriven: false });
  });

  it('continues from the retry-attempt header and keeps the original position on a retry tier', () => {
    const retry = record({
      topic: 'retry.2',
      offset: 7,
      headers: {
        [Header.retryAttempt]: '2',
        [Header.firstFailedAt]: new Date(now).toISOString(),
        [Header.originalTopic]: 'callbacks',
        [Header.originalPartition]: '2',
        [Header.originalOffset]: '41',
      },
    });
    expect(attemptState(retry, tierOf)).toMatchObject({ previousAttempts: 2, firstFailedAt: now });
  });

  it('still reads first-failed-at in epoch milliseconds, as records written by an older version carry it', () => {
    const legacy = record({ topic: 'retry.1', headers: { [Header.retryAttempt]: '1', [Header.firstFailedAt]: String(now) } });
    expect(attemptState(legacy, tierOf).firstFailedAt).toBe(now);
  });

  it('starts a redriven record over, whatever attempts its headers record', () => {
    const redriven = record({ topic: 'retry.1', headers: { [Header.retryAttempt]: '4', [Header.firstFailedAt]: '1', [Header.redrivenFrom]: 'dlq/0/3' } });
    expect(attemptState(redriven, tierOf)).toMatchObject({ previousAttempts: 0, firstFailedAt: undefined, redriven: true });
  });

  it('reads the due time, treating a missing one as due now', () => {
    expect(dueAt(record({ headers: { [Header.retryDueAt]: String(now) } }))).toBe(now);
    expect(dueAt(record({ headers: {} }))).toBe(0);
  });
});

describe('retry and dead-letter records', () => {
  const error = new DownstreamUnavailable('downstream answered 503', 503);

  it('carries the original bytes, key and headers plus the retry headers of DESIGN', () => {
    const input = record({ headers: { ...record().headers, [Header.traceparent]: 'tp' } });
    const out = retryRecord(input, attemptState(input, tierOf), { attempt: 1, error, now, topic: 'retry.1', dueAt: now + 1_000 });
    expect(out.topic).toBe('retry.1');
    expect(out.value).toBe(input.value);
    expect(out.key).toBe(input.key);
    expect(out.headers).toEqual({
      ...input.headers,
      [Header.retryAttempt]: '1',
      [Header.retryDueAt]: String(now + 1_000),
      [Header.originalTopic]: 'callbacks',
      [Header.originalPartition]: '2',
      [Header.originalOffset]: '41',
      [Header.firstFailedAt]: new Date(now).toISOString(),
      [Header.errorClass]: 'DownstreamUnavailable',
      [Header.errorMessage]: 'downstream answered 503',
    });
  });

  it('keeps the first failure time and replaces the previous cycle headers on a later retry', () => {
    const tier1 = retryRecord(record(), attemptState(record(), tierOf), { attempt: 1, error, now, topic: 'retry.1', dueAt: now + 1 });
    const input = record({ topic: 'retry.1', offset: 3, headers: tier1.headers });
    const tier2 = retryRecord(input, attemptState(input, tierOf), { attempt: 2, error, now: now + 5_000, topic: 'retry.2', dueAt: now + 7_000 });
    expect(tier2.headers).toMatchObject({
      [Header.retryAttempt]: '2',
      [Header.retryDueAt]: String(now + 7_000),
      [Header.firstFailedAt]: new Date(now).toISOString(),
      [Header.originalOffset]: '41',
    });
  });

  it('drops redriven-from from the retry record that continues a redrive, keeps it on a dead letter', () => {
    const input = record({ topic: 'retry.1', headers: { ...record().headers, [Header.redrivenFrom]: 'dlq/0/3', [Header.dlqReason]: 'retries-exhausted' } });
    const state = attemptState(input, tierOf);
    const retry = retryRecord(input, state, { attempt: 1, error, now, topic: 'retry.1', dueAt: now });
    expect(retry.headers[Header.redrivenFrom]).toBeUndefined();
    expect(retry.headers[Header.dlqReason]).toBeUndefined();
    const dead = deadLetterRecord(input, state, { attempt: 1, error, now, topic: 'dlq', reason: 'non-retriable' });
    expect(dead.headers).toMatchObject({ [Header.redrivenFrom]: 'dlq/0/3', [Header.dlqReason]: 'non-retriable' });
    expect(dead.headers[Header.retryDueAt]).toBeUndefined();
  });

  it('truncates long error messages', () => {
    const long = new DownstreamUnavailable('x'.repeat(5_000), 500);
    const out = deadLetterRecord(record(), attemptState(record(), tierOf), { attempt: 1, error: long, now, topic: 'dlq', reason: 'retries-exhausted' });
    expect(out.headers[Header.errorMessage]!.length).toBeLessThanOrEqual(512);
  });
});

describe('result headers and identity', () => {
  it('puts event-id, correlation-id, received-at and traceparent when given on a result', () => {
    const subject = { eventId: 'evt-1', correlationId: 'corr-1', receivedAt: '2026-01-01T00:00:00.000Z' };
    expect(resultHeaders(subject, { partition: 2, offset: 41, headers: { [Header.traceparent]: 'tp', other: 'x' } })).toEqual({
      [Header.eventId]: 'evt-1',
      [Header.correlationId]: 'corr-1',
      [Header.callbackPartition]: '2',
      [Header.callbackOffset]: '41',
      [Header.receivedAt]: '2026-01-01T00:00:00.000Z',
      [Header.traceparent]: 'tp',
    });
  });

  it("places a retried callback's result where the callback was written, not where its retry was", () => {
    const subject = { eventId: 'evt-1', correlationId: 'corr-1', receivedAt: null };
    const retried = { partition: 0, offset: 7, headers: { [Header.originalTopic]: 'cognigy.callbacks.v1', [Header.originalPartition]: '2', [Header.originalOffset]: '41' } };
    expect(resultHeaders(subject, retried)).toMatchObject({ [Header.callbackPartition]: '2', [Header.callbackOffset]: '41' });
  });

  it('recovers the identity of an undecodable record from its key and headers, or not at all', () => {
    expect(identityFromEnvelope(record())).toEqual({ eventId: 'evt-1', sessionId: 'session-1', correlationId: 'corr-1', receivedAt: '2026-01-01T00:00:00.000Z' });
    expect(identityFromEnvelope(record({ key: null }))).toBeUndefined();
    expect(identityFromEnvelope(record({ headers: {} }))).toBeUndefined();
  });
});
