import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { LOCAL_DLQ_NOTIFY_SECRET, NOTIFICATIONS_PATH } from '../../services/cognigy-simulator/notifications.js';
import { secretProblem, signedHeaders } from '../../shared/standard-webhooks.js';

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});

const post = (body: string, headers: Record<string, string>) =>
  fetch(`${sim.url}${NOTIFICATIONS_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

it('the simulator verifies and records dead-letter notifications, and fails the next calls on request', async () => {
  expect(secretProblem(LOCAL_DLQ_NOTIFY_SECRET)).toBeUndefined();
  const body = JSON.stringify({ type: 'dead_letter.written', data: { eventId: 'evt-1' } });

  expect((await post(body, signedHeaders(LOCAL_DLQ_NOTIFY_SECRET, 'dlq_a', body, Date.now()))).status).toBe(204);
  expect((await post(body.replace('evt-1', 'evt-2'), signedHeaders(LOCAL_DLQ_NOTIFY_SECRET, 'dlq_b', body, Date.now()))).status).toBe(204);
  const faults = await fetch(`${sim.url}/admin/dlq-notifications/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"failNext":1}' });
  expect(await faults.json()).toEqual({ failuresLeft: 1 });
  expect((await post(body, signedHeaders(LOCAL_DLQ_NOTIFY_SECRET, 'dlq_c', body, Date.now()))).status).toBe(500);

  const listed = (await (await fetch(`${sim.url}/admin/dlq-notifications`)).json()) as { count: number; received: { webhookId: string; verified: boolean; reason: string | null; status: number; body: unknown }[] };
  expect(listed.count).toBe(3);
  expect(listed.received.map((n) => [n.webhookId, n.verified, n.reason, n.status])).toEqual([
    ['dlq_a', true, null, 204],
    ['dlq_b', false, 'no matching signature', 204],
    ['dlq_c', true, null, 500],
  ]);
  expect(listed.received[0]!.body).toEqual({ type: 'dead_letter.written', data: { eventId: 'evt-1' } });
  expect(sim.notifications.accepted().map((n) => n.webhookId)).toEqual(['dlq_a']);
});
