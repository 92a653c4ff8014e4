import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Header } from '../../shared/headers.js';
import { waitFor } from '../support/wait.js';
import { makeCallback, startHarness, type Harness } from './support.js';

/** Three attempts (tiers retry.1 and retry.2), short delays, and a breaker that never opens here. */
const ENV = {
  RETRY_MAX_ATTEMPTS: '3',
  RETRY_STRATEGY: 'exponential',
  RETRY_BASE_DELAY_MS: '600',
  RETRY_MAX_DELAY_MS: '5000',
  RETRY_JITTER: '0.1',
  DOWNSTREAM_TIMEOUT_MS: '300',
  BREAKER_CONSECUTIVE_FAILURES: '1000',
};

describe('fulfillment retries and dead letters against the real broker', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(ENV);
  });
  afterAll(async () => {
    await h?.stop();
  });
  beforeEach(() => {
    h.simulator.downstream.reset();
  });

  it('retries twice through the retry tiers after two 500s, never before a due time, then fulfills', async () => {
    h.simulator.downstream.setFaults({ script: [500, 500] });
    const callback = makeCallback();
    const [sent] = await h.send([callback]);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({ route: 'FULFILLED', ackStatus: 'ACKNOWLEDGED', attempts: 3, downstreamStatus: 200 });

    const [first, second] = await waitFor(() => {
      const records = [h.on(h.topics.retry(1)), h.on(h.topics.retry(2))].map((rs) => rs.filter((r) => r.headers[Header.eventId] === callback.eventId));
      return records.every((rs) => rs.length === 1) ? records.map((rs) => rs[0]!) : undefined;
    }, { what: 'one record on each retry tier' });
    const originalBytes = await h.encode(callback);
    const calls = h.simulator.downstream.callsFor(callback.eventId);
    expect(calls.map((c) => c.answer)).toEqual([500, 500, 200]);

    for (const [n, record] of [[1, first!], [2, second!]] as const) {
      expect(record.key).toBe(callback.sessionId);
      expect(record.value!.equals(originalBytes)).toBe(true);
      expect(record.headers).toMatchObject({
        [Header.retryAttempt]: String(n),
        [Header.originalTopic]: h.topics.callbacks,
        [Header.originalPartition]: String(sent!.partition),
        [Header.originalOffset]: sent!.baseOffset,
        [Header.eventId]: callback.eventId,
        [Header.correlationId]: callback.correlationId,
        [Header.errorClass]: 'DownstreamUnavailable',
        [Header.errorMessage]: 'downstream answered 500',
      });
      // The attempt after retry tier n happened no earlier than that record's due time.
      expect(calls[n]!.at).toBeGreaterThanOrEqual(Number(record.headers[Header.retryDueAt]));
    }
    expect(first!.headers[Header.firstFailedAt]).toBe(second!.headers[Header.firstFailedAt]);
    // Exponential: the second wait is about twice the first (0.6 s, then 1.2 s, +-10 %).
    const wait1 = Number(first!.headers[Header.retryDueAt]) - calls[0]!.at;
    const wait2 = Number(second!.headers[Header.retryDueAt]) - calls[1]!.at;
    expect(wait1).toBeGreaterThanOrEqual(500);
    expect(wait2).toBeGreaterThanOrEqual(1_000);
  });

  it('dead-letters a callback the downstream always fails after maxAttempts, with a REJECTED + ENGINE_UNREACHABLE result', async () => {
    h.simulator.downstream.setFaults({ errorRate: 1 });
    const callback = makeCallback();
    await h.send([callback]);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({
      route: 'FAILED',
      ackStatus: 'REJECTED',
      errorDirective: 'ENGINE_UNREACHABLE',
      attempts: 3,
      downstreamStatus: 500,
    });
    const dead = await waitFor(() => h.on(h.topics.dlq).find((r) => r.headers[Header.eventId] === callback.eventId), { what: 'the dead letter' });
    expect(dead.headers).toMatchObject({
      [Header.dlqReason]: 'retries-exhausted',
      [Header.retryAttempt]: '3',
      [Header.originalTopic]: h.topics.callbacks,
      [Header.errorClass]: 'DownstreamUnavailable',
      [Header.errorMessage]: 'downstream answered 500',
    });
    expect(dead.headers[Header.firstFailedAt]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(dead.key).toBe(callback.sessionId);
    expect(h.simulator.downstream.callsFor(callback.eventId)).toHaveLength(3);
  });

  it('dead-letters a callback the downstream answers 4xx at once, with REJECTED + VALIDATION_FAILED', async () => {
    h.simulator.downstream.setFaults({ script: [422] });
    const callback = makeCallback();
    await h.send([callback]);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({ route: 'REJECTED', ackStatus: 'REJECTED', errorDirective: 'VALIDATION_FAILED', attempts: 1, downstreamStatus: 422 });
    const dead = await waitFor(() => h.on(h.topics.dlq).find((r) => r.headers[Header.eventId] === callback.eventId), { what: 'the dead letter' });
    expect(dead.headers).toMatchObject({ [Header.dlqReason]: 'non-retriable', [Header.retryAttempt]: '1', [Header.errorClass]: 'DownstreamRejected' });
    expect(h.on(h.topics.retry(1)).filter((r) => r.headers[Header.eventId] === callback.eventId)).toHaveLength(0);
    expect(h.simulator.downstream.callsFor(callback.eventId)).toHaveLength(1);
  });

  it('ends a callback whose calls all time out as TIMEOUT + WEBHOOK_TIMEOUT', async () => {
    h.simulator.downstream.setFaults({ script: ['hang', 'hang', 'hang'] });
    const callback = makeCallback();
    await h.send([callback]);

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    expect(only!.result).toMatchObject({ route: 'FAILED', ackStatus: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT', attempts: 3 });
    const dead = await waitFor(() => h.on(h.topics.dlq).find((r) => r.headers[Header.eventId] === callback.eventId), { what: 'the dead letter' });
    expect(dead.headers[Header.errorClass]).toBe('DownstreamTimeout');
  });

  it('dead-letters a record that is not valid Avro and processes the records behind it', async () => {
    const sessionId = 'malformed-session';
    await h.sendRaw(h.topics.callbacks, {
      key: sessionId,
      value: Buffer.from('{"not":"avro"}'),
      headers: { [Header.eventId]: 'evt-garbage', [Header.correlationId]: 'corr-garbage' },
    });
    await h.sendRaw(h.topics.callbacks, { key: sessionId, value: Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]) });
    const behind = makeCallback({ sessionId });
    await h.send([behind]);

    const results = await h.waitForResults(['evt-garbage', behind.eventId]);
    expect(results.get('evt-garbage')![0]!.result).toMatchObject({
      sessionId,
      correlationId: 'corr-garbage',
      route: 'REJECTED',
      ackStatus: 'REJECTED',
      errorDirective: 'PAYLOAD_MALFORMED',
      attempts: 0,
    });
    expect(results.get(behind.eventId)![0]!.result.route).toBe('FULFILLED');
    const dead = await waitFor(() => {
      const rs = h.on(h.topics.dlq).filter((r) => r.key === sessionId);
      return rs.length === 2 ? rs : undefined;
    }, { what: 'both malformed records on the DLQ' });
    expect(dead.map((r) => r.headers[Header.dlqReason])).toEqual(['undecodable', 'undecodable']);
    expect(dead[0]!.value!.toString()).toBe('{"not":"avro"}');
    // The second had no event-id header: a result could not name it, so there is only the dead letter.
    expect(dead[1]!.headers[Header.eventId]).toBeUndefined();
    expect(dead[1]!.headers[Header.errorClass]).toBe('UndecodableRecord');
  });

  it('processes a dead letter redriven to retry tier 1 like a retry, with a fresh attempt budget', async () => {
    h.simulator.downstream.setFaults({ script: [500] });
    const callback = makeCallback();
    await h.sendRaw(h.topics.retry(1), {
      key: callback.sessionId,
      value: await h.encode(callback),
      headers: {
        [Header.eventId]: callback.eventId,
        [Header.correlationId]: callback.correlationId,
        [Header.receivedAt]: callback.receivedAt,
        [Header.retryAttempt]: '3',
        [Header.firstFailedAt]: String(Date.now() - 86_400_000),
        [Header.dlqReason]: 'retries-exhausted',
        [Header.originalTopic]: h.topics.callbacks,
        [Header.originalPartition]: '0',
        [Header.originalOffset]: '17',
        [Header.redrivenFrom]: `${h.topics.dlq}/0/4`,
        [Header.retryDueAt]: String(Date.now()),
      },
    });

    const [only] = (await h.waitForResults([callback.eventId])).get(callback.eventId)!;
    // The redrive failed once (attempt 1 of a new cycle), was retried on tier 1, then fulfilled.
    expect(only!.result).toMatchObject({ route: 'FULFILLED', attempts: 2 });
    const retried = h.on(h.topics.retry(1)).filter((r) => r.headers[Header.eventId] === callback.eventId);
    expect(retried).toHaveLength(2);
    expect(retried[1]!.headers).toMatchObject({ [Header.retryAttempt]: '1', [Header.originalOffset]: '17' });
    expect(retried[1]!.headers[Header.redrivenFrom]).toBeUndefined();
    expect(retried[1]!.headers[Header.dlqReason]).toBeUndefined();
    expect(Date.parse(retried[1]!.headers[Header.firstFailedAt]!)).toBeGreaterThan(Date.now() - 60_000);
  });
});
