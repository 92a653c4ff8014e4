import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { LOCAL_DLQ_NOTIFY_SECRET, NOTIFICATIONS_PATH } from '../../services/cognigy-simulator/notifications.js';
import { Header } from '../../shared/headers.js';
import { deadLetterWebhookId, type DeadLetterNotice } from '../../shared/stage/dead-letter-notice.js';
import { waitFor } from '../support/wait.js';
import { Harness } from './support.js';

let sim: RunningSimulator;
let world: Harness;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});
beforeEach(async () => {
  sim.cognigy.reset();
  sim.notifications.reset();
  world = await new Harness(sim).start();
});
afterEach(async () => {
  await world.close();
});

const notifying = () => ({ DLQ_NOTIFY_URL: `${sim.url}${NOTIFICATIONS_PATH}`, DLQ_NOTIFY_SECRET: LOCAL_DLQ_NOTIFY_SECRET });

it('an invalid ack item dead-lettered by the aggregator is notified once, signed, with its original record', async () => {
  const results = world.results(6, (i) => (i === 2 ? { route: 'FAILED', ackStatus: 'REJECTED', errorDirective: null } : {}));
  const invalid = results[2]!;
  sim.notifications.failNext(1);
  const aggregator = await world.aggregator(notifying());
  await world.produce(results);

  const dlq = await world.reader([world.topics.dlq]);
  await waitFor(() => dlq.length >= 1, { what: 'the dead letter' });
  await waitFor(() => sim.notifications.accepted().length >= 1, { what: 'its notification' });
  await world.waitAcknowledged(results.filter((r) => r !== invalid).map((r) => r.eventId));
  await aggregator.stop();

  const [letter] = dlq;
  const accepted = sim.notifications.accepted();
  expect(dlq).toHaveLength(1);
  expect(accepted).toHaveLength(1);
  expect(sim.notifications.received.map((n) => [n.status, n.verified])).toEqual([
    [500, true],
    [204, true],
  ]);
  expect(accepted[0]!.webhookId).toBe(deadLetterWebhookId({ topic: letter!.topic, key: letter!.key, value: letter!.value, headers: letter!.headers }));
  expect(accepted[0]!.body as DeadLetterNotice).toMatchObject({
    type: 'dead_letter.written',
    data: {
      service: 'ack-aggregator',
      eventId: invalid.eventId,
      correlationId: invalid.correlationId,
      sessionId: invalid.sessionId,
      reason: 'invalid-ack-item',
      errorClass: 'InvalidAckItem',
      attempts: null,
      original: {
        topic: world.topics.results,
        partition: Number(letter!.headers[Header.originalPartition]),
        offset: Number(letter!.headers[Header.originalOffset]),
      },
      deadLetter: { topic: world.topics.dlq },
    },
  });
}, 90_000);

it('every result of a batch Cognigy refuses is notified', async () => {
  sim.cognigy.inject({ badRequest: 1 });
  const refused = world.results(3);
  const aggregator = await world.aggregator(notifying());
  await world.produce(refused);

  const dlq = await world.reader([world.topics.dlq]);
  await waitFor(() => dlq.length >= 3, { what: 'the refused batch in the DLQ' });
  await waitFor(() => sim.notifications.accepted().length >= 3, { what: 'three notifications' });
  await world.waitCommitted();
  await aggregator.stop();

  const accepted = sim.notifications.accepted();
  expect(accepted).toHaveLength(3);
  expect(accepted.map((n) => (n.body as DeadLetterNotice).data.eventId).sort()).toEqual(refused.map((r) => r.eventId).sort());
  expect(new Set(accepted.map((n) => (n.body as DeadLetterNotice).data.reason))).toEqual(new Set(['ack-batch-rejected']));
  expect(new Set(accepted.map((n) => n.webhookId)).size).toBe(3);
}, 90_000);
