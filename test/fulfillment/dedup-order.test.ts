import { pino } from 'pino';
import { expect, it } from 'vitest';
import { fulfillmentMetrics } from '../../services/fulfillment/metrics.js';
import { AtLeastOnceOutput, type OutputDeps } from '../../services/fulfillment/output.js';
import type { Completion } from '../../services/fulfillment/processor.js';
import type { Producer } from '../../shared/kafka.js';
import { Registry } from '../../shared/metrics.js';
import type { OutRecord } from '../../shared/stage/records.js';
import { testDedup } from '../support/dedup.js';
import { waitFor } from '../support/wait.js';

/**
 * At-least-once writes a record's outputs and its dedup entry with a plain producer, so a broker
 * failing in the middle of one request can keep some partitions' records and not others. An entry
 * kept without its result would make the record, read again, pass for a repeat: a callback without
 * a result. The entry is therefore only sent once the outputs are acknowledged.
 */

const RESULTS = 'p.cognigy.fulfillment.results.v1';
const result: OutRecord = { topic: RESULTS, key: 'session-1', value: Buffer.from('result'), headers: { 'event-id': 'evt-1' } };
const completion: Completion = { outcome: 'fulfilled', outputs: [result], handled: { partition: 0, eventId: 'evt-1', attempt: 1 } } as Completion;

function setup() {
  const sends: { topics: string[]; settle: { resolve: () => void; reject: (error: Error) => void } }[] = [];
  const producer = {
    sendBatch: ({ topicMessages }: { topicMessages: { topic: string }[] }) =>
      new Promise<void>((resolve, reject) => sends.push({ topics: topicMessages.map((t) => t.topic), settle: { resolve, reject } })),
    disconnect: async () => undefined,
  } as unknown as Producer;
  const dedup = testDedup();
  const deps: OutputDeps = {
    commitOffsets: async () => undefined,
    groupId: 'group',
    dedup,
    metrics: fulfillmentMetrics(new Registry()),
    logger: pino({ level: 'silent' }),
    commitIntervalMs: 0,
    deadLetters: { notify: () => undefined, close: async () => undefined },
  };
  const output = new AtLeastOnceOutput(producer, deps);
  const failures: unknown[] = [];
  output.onFailure((_lane, error) => failures.push(error));
  return { output, sends, dedup, failures };
}

it('at-least-once sends a dedup entry only after its record’s outputs are acknowledged, never with them', async () => {
  const { output, sends, dedup } = setup();
  const lane = await output.open('in', 0, 0);
  output.accept(lane, 0);
  const writing = output.complete(lane, 0, completion);

  await waitFor(() => sends.length === 1, { what: 'the outputs sent' });
  expect(sends[0]!.topics).toEqual([RESULTS]);
  sends[0]!.settle.resolve();
  await waitFor(() => sends.length === 2, { what: 'the dedup entry sent' });
  expect(sends[1]!.topics).toEqual(['test.dedup']);
  sends[1]!.settle.resolve();
  await writing;
  expect(dedup.seen(0, 'evt-1')).toBe(1);
});

it('at-least-once sends no dedup entry for a record whose outputs failed, and forgets it when the partition restarts', async () => {
  const { output, sends, dedup, failures } = setup();
  const lane = await output.open('in', 0, 0);
  output.accept(lane, 0);
  const writing = output.complete(lane, 0, completion);

  await waitFor(() => sends.length === 1, { what: 'the outputs sent' });
  sends[0]!.settle.reject(new Error('broker unavailable'));
  await writing;
  expect(failures).toHaveLength(1);
  expect(sends.flatMap((s) => s.topics)).not.toContain('test.dedup');
  // The intake restarts the partition, which releases its lane: the record is handled again, not skipped.
  await output.release(lane);
  expect(dedup.seen(0, 'evt-1')).toBeUndefined();
});
