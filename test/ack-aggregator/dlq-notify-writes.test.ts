import { expect, it } from 'vitest';
import { DurableWriter, untilDone } from '../../services/ack-aggregator/durable-writes.js';
import type { Producer } from '../../shared/kafka.js';
import type { TopicSerde } from '../../shared/serde.js';
import type { DeadLetterNotifier } from '../../shared/stage/dead-letter-notifier.js';
import type { OutRecord } from '../../shared/stage/records.js';

it('the aggregator announces its dead letters once the retried write succeeded, not at the failed attempts', async () => {
  const notified: OutRecord[][] = [];
  const notifier: DeadLetterNotifier = { notify: (records) => void notified.push([...records]), close: async () => undefined };
  /** Announcements made by the time of each attempt. */
  const announcedAtAttempt: number[] = [];
  const producer = {
    sendBatch: async () => {
      announcedAtAttempt.push(notified.length);
      if (announcedAtAttempt.length < 3) throw new Error('broker unavailable');
      return [];
    },
  } as unknown as Producer;
  const abort = new AbortController();
  const writer = new DurableWriter(producer, {} as TopicSerde<'AckBatch'>, { topic: 'batches', groupId: 'g' }, untilDone(abort.signal), notifier);
  const letter: OutRecord = { topic: 'p.cognigy.callbacks.dlq', key: 's', value: null, headers: { 'dlq-reason': 'invalid-ack-item' } };

  await writer.send([letter]);

  expect(announcedAtAttempt).toEqual([0, 0, 0]);
  expect(notified).toEqual([[letter]]);
});
