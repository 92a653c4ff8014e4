import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { fulfillmentMetrics } from '../../services/fulfillment/metrics.js';
import { AtLeastOnceOutput, ExactlyOnceOutput, type Lane, type OutputDeps } from '../../services/fulfillment/output.js';
import type { Completion } from '../../services/fulfillment/processor.js';
import { testDedup } from '../support/dedup.js';
import type { Admin, KafkaClient, Producer } from '../../shared/kafka.js';
import { Registry } from '../../shared/metrics.js';
import type { DeadLetterNotifier } from '../../shared/stage/dead-letter-notifier.js';
import type { OutRecord } from '../../shared/stage/records.js';
import { waitFor } from '../support/wait.js';

/**
 * When fulfillment announces a dead letter: only once it is durable. A broker cannot be made to
 * abort a transaction on cue, so the producer here is a fake whose sends and commits the test
 * resolves, rejects or holds.
 */

const DLQ = 'p.cognigy.callbacks.dlq';
const deadLetter: OutRecord = { topic: DLQ, key: 'session-1', value: Buffer.from('bytes'), headers: { 'event-id': 'evt-1', 'dlq-reason': 'non-retriable' } };
const result: OutRecord = { topic: 'p.cognigy.fulfillment.results.v1', key: 'session-1', value: Buffer.from('result'), headers: { 'event-id': 'evt-1' } };
const completion: Completion = { outcome: 'dead-lettered', outputs: [deadLetter, result] };

/** A promise the test settles. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function recordingNotifier() {
  const notified: OutRecord[][] = [];
  const notifier: DeadLetterNotifier = { notify: (records) => void notified.push([...records]), close: async () => undefined };
  return { notifier, notified };
}

function deps(deadLetters: DeadLetterNotifier): OutputDeps {
  return {
    commitOffsets: async () => undefined,
    groupId: 'group',
    dedup: testDedup(),
    metrics: fulfillmentMetrics(new Registry()),
    logger: pino({ level: 'silent' }),
    commitIntervalMs: 0,
    deadLetters,
  };
}

/** A transactional producer whose commits follow `commits` in order ('hold' waits for the test). */
function fakeTransactionalKafka(commits: ('fail' | 'hold' | 'ok')[]) {
  const events: string[] = [];
  const held: ReturnType<typeof deferred>[] = [];
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    transaction: async () => ({
      sendBatch: async () => void events.push('send'),
      sendOffsets: async () => void events.push('offsets'),
      abort: async () => void events.push('abort'),
      commit: async () => {
        const next = commits.shift() ?? 'ok';
        events.push(`commit:${next}`);
        if (next === 'fail') throw new Error('InvalidProducerEpoch: fenced');
        if (next === 'hold') {
          const wait = deferred();
          held.push(wait);
          await wait.promise;
        }
      },
    }),
  };
  const kafka = { producer: () => producer } as unknown as KafkaClient;
  const admin = { fetchOffsets: async () => [{ topic: 'in', partitions: [{ partition: 0, offset: '-1' }] }] } as unknown as Admin;
  return { kafka, admin, events, held };
}

describe('fulfillment announces a dead letter only once it is durable', () => {
  it('exactly-once: not while the transaction commits, never for an aborted one, once for the retried one that commits', async () => {
    const { notifier, notified } = recordingNotifier();
    const fake = fakeTransactionalKafka(['hold', 'fail', 'ok']);
    const output = new ExactlyOnceOutput(fake.kafka, fake.admin, 'tx', deps(notifier));
    const failures: Lane[] = [];
    output.onFailure((lane) => failures.push(lane));

    // First record: the commit is held; nothing is announced until it returns.
    let lane = await output.open('in', 0, 0);
    output.accept(lane, 0);
    await output.complete(lane, 0, completion);
    await waitFor(() => fake.held.length === 1, { what: 'the commit to start' });
    expect(notified).toEqual([]);
    fake.held[0]!.resolve();
    await waitFor(() => notified.length === 1, { what: 'the announcement after the commit' });
    expect(notified[0]).toEqual([deadLetter, result]);

    // Second record: its transaction fails and is aborted: nothing announced, the partition restarts.
    output.accept(lane, 1);
    await output.complete(lane, 1, completion);
    await waitFor(() => failures.length === 1, { what: 'the failed transaction to be reported' });
    expect(fake.events).toContain('abort');
    expect(notified).toHaveLength(1);

    // The restart processes the record again; its transaction commits and is announced once.
    await output.release(lane);
    lane = await output.open('in', 0, 1);
    output.accept(lane, 1);
    await output.complete(lane, 1, completion);
    await waitFor(() => notified.length === 2, { what: 'the announcement after the retried commit' });
    expect(fake.events.filter((e) => e.startsWith('commit'))).toEqual(['commit:hold', 'commit:fail', 'commit:ok']);
    await output.stop();
    expect(notified).toHaveLength(2);
  });

  it('at-least-once: not before the producer acknowledged the write, never for a write that failed', async () => {
    const { notifier, notified } = recordingNotifier();
    const sends: ReturnType<typeof deferred>[] = [];
    const producer = {
      sendBatch: () => {
        const send = deferred();
        sends.push(send);
        return send.promise;
      },
      disconnect: async () => undefined,
    } as unknown as Producer;
    const output = new AtLeastOnceOutput(producer, deps(notifier));
    const failures: unknown[] = [];
    output.onFailure((_lane, error) => failures.push(error));
    const lane = await output.open('in', 0, 0);

    output.accept(lane, 0);
    const failing = output.complete(lane, 0, completion);
    await waitFor(() => sends.length === 1, { what: 'the first send' });
    sends[0]!.reject(new Error('broker unavailable'));
    await failing;
    expect(failures).toHaveLength(1);
    expect(notified).toEqual([]);

    output.accept(lane, 1);
    const writing = output.complete(lane, 1, completion);
    await waitFor(() => sends.length === 2, { what: 'the second send' });
    expect(notified).toEqual([]);
    sends[1]!.resolve();
    await writing;
    expect(notified).toEqual([[deadLetter, result]]);
  });
});
