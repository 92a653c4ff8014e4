import { describe, expect, it } from 'vitest';
import { Header } from '../../shared/headers.js';
import { deadLetterRecord, failureHeaders, namedError, readFirstFailedAt } from '../../shared/stage/dead-letter.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';

const now = Date.UTC(2026, 10, 30, 21, 5, 58, 483);

function record(overrides: Partial<ConsumedRecord> = {}): ConsumedRecord {
  return {
    topic: 'results',
    partition: 3,
    offset: 17,
    key: Buffer.from('session-1'),
    value: Buffer.from([0, 0, 0, 0, 2, 9]),
    headers: { [Header.eventId]: 'evt-1', [Header.correlationId]: 'corr-1' },
    timestamp: now - 1_000,
    ...overrides,
  };
}

describe('dead-letter records', () => {
  it('keep the original key, bytes and headers and add where they came from, when and why, as ISO-8601 UTC', () => {
    const source = record();
    const letter = deadLetterRecord(source, 'dlq', 'invalid-ack-item', { error: namedError('InvalidAckItem', 'needs an errorDirective'), now });
    expect(letter.topic).toBe('dlq');
    expect(letter.key).toBe(source.key);
    expect(letter.value).toBe(source.value);
    expect(letter.headers).toEqual({
      [Header.eventId]: 'evt-1',
      [Header.correlationId]: 'corr-1',
      [Header.originalTopic]: 'results',
      [Header.originalPartition]: '3',
      [Header.originalOffset]: '17',
      [Header.firstFailedAt]: '2026-11-30T21:05:58.483Z',
      [Header.errorClass]: 'InvalidAckItem',
      [Header.errorMessage]: 'needs an errorDirective',
      [Header.dlqReason]: 'invalid-ack-item',
    });
  });

  it('keep the position a retried record entered the pipeline at, its first failure time and its attempt count', () => {
    const retried = record({
      topic: 'retry.2',
      offset: 4,
      headers: {
        [Header.originalTopic]: 'callbacks',
        [Header.originalPartition]: '1',
        [Header.originalOffset]: '40',
        [Header.firstFailedAt]: '2026-11-30T21:00:00.000Z',
        [Header.retryDueAt]: String(now),
        [Header.errorMessage]: 'old',
      },
    });
    const headers = failureHeaders(retried, { error: new Error('503'), attempt: 3, firstFailedAt: readFirstFailedAt(retried.headers), now }, { keepRedrivenFrom: false });
    expect(headers).toMatchObject({
      [Header.originalTopic]: 'callbacks',
      [Header.originalOffset]: '40',
      [Header.firstFailedAt]: '2026-11-30T21:00:00.000Z',
      [Header.retryAttempt]: '3',
      [Header.errorMessage]: '503',
    });
    expect(headers[Header.retryDueAt]).toBeUndefined();
  });

  it('bound the error message', () => {
    const letter = deadLetterRecord(record(), 'dlq', 'x', { error: new Error('y'.repeat(5_000)), now });
    expect(letter.headers[Header.errorMessage]!.length).toBeLessThanOrEqual(512);
  });

  it('read first-failed-at as ISO text, and as the epoch milliseconds older records carry', () => {
    expect(readFirstFailedAt({ [Header.firstFailedAt]: '2026-11-30T21:05:58.483Z' })).toBe(now);
    expect(readFirstFailedAt({ [Header.firstFailedAt]: String(now) })).toBe(now);
    expect(readFirstFailedAt({ [Header.firstFailedAt]: 'yesterday' })).toBeUndefined();
    expect(readFirstFailedAt({})).toBeUndefined();
  });
});
