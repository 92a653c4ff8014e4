import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import type { FulfillmentResult } from '../../shared/contracts.js';
import { Header } from '../../shared/headers.js';
import { waitFor } from '../support/wait.js';
import { Harness, metricValue, scrape } from './support.js';

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
  world = await new Harness(sim).start();
});
afterEach(async () => {
  await world.close();
});

it('acknowledges 1,250 results arriving at once in batches of 500, 500 and 250, with one token', async () => {
  const results = world.results(1_250);
  for (let i = 0; i < results.length; i += 250) await world.produce(results.slice(i, i + 250));
  const aggregator = await world.aggregator({ ACK_WINDOW_MS: '3000' });

  await world.waitAcknowledged(results.map((r) => r.eventId));
  await world.waitCommitted();

  const calls = world.calls();
  expect(calls.map((c) => [c.batchSize, c.status])).toEqual([
    [500, 200],
    [500, 200],
    [250, 200],
  ]);
  expect(new Set(calls.map((c) => c.idempotencyKey)).size).toBe(3);
  expect(sim.cognigy.tokens).toHaveLength(1);
  expect(calls.every((c) => c.token === sim.cognigy.tokens[0]?.token)).toBe(true);
  expect([...sim.cognigy.acknowledged.values()].every((n) => n === 1)).toBe(true);

  // Each plan is on the batches topic before Cognigy saw the batch, and its outcome after.
  const batchRecords = await world.reader([world.topics.ackBatches]);
  await waitFor(() => batchRecords.length >= 6, { what: 'plan and outcome records' });
  const records = await world.batchRecords(batchRecords);
  for (const call of calls) {
    const plan = records.find((r) => r.phase === 'PLANNED' && r.idempotencyKey === call.idempotencyKey);
    const outcome = records.find((r) => r.phase === 'ACCEPTED' && r.idempotencyKey === call.idempotencyKey);
    expect(plan?.statusMatrix).toHaveLength(call.batchSize);
    expect(plan!.timestamp).toBeLessThanOrEqual(call.at);
    expect(outcome).toMatchObject({ batchSize: call.batchSize, processedCount: call.batchSize, failedCount: 0 });
  }

  const audit = world.logs.filter((l) => l.audit === 'ack-batch');
  expect(audit).toHaveLength(3);
  for (const line of audit) {
    expect(line).toMatchObject({ status: 'ACCEPTED', ackRate: 1 });
    expect(Object.keys(line)).toEqual(expect.arrayContaining(['timestamp', 'batchId', 'idempotencyKey', 'latencyMs']));
  }

  const metrics = await scrape(aggregator.url);
  expect(metricValue(metrics, 'ack_batches_total', { outcome: 'accepted' })).toBe(3);
  expect(metricValue(metrics, 'ack_items_total', { status: 'ACKNOWLEDGED' })).toBe(1_250);
  expect(metricValue(metrics, 'ack_batch_size_count')).toBe(3);
  expect(metricValue(metrics, 'ack_batch_size_sum')).toBe(1_250);
  expect(metricValue(metrics, 'ack_batch_ack_rate')).toBe(1);
  expect(metricValue(metrics, 'ack_batch_latency_seconds_count')).toBe(3);
}, 120_000);

it('closes each batch by the window after its first result when results trickle in, far below the size limit', async () => {
  const windowMs = 1_500;
  // Fetching the first result, writing the plan and the HTTP call, on a busy two-core machine;
  // less than the window, so a window kept open twice as long would fail.
  const slackMs = 1_000;
  await world.aggregator({ ACK_WINDOW_MS: String(windowMs) });

  // Pairs of results: the second written right after the first, so it arrives while the first
  // one's window is open; the next pair only after that batch reached Cognigy, so in a new window.
  for (let round = 0; round < 3; round += 1) {
    const [first, second] = world.results(2) as [FulfillmentResult, FulfillmentResult];
    const producedAt = Date.now();
    await world.produce([first]);
    const availableAt = Date.now();
    await world.produce([second]);
    const call = await waitFor(() => world.calls().find((c) => c.webhookIds.includes(first.eventId)), {
      timeoutMs: 30_000,
      what: `the batch of round ${round}`,
    });
    expect(new Set(call.webhookIds), `round ${round}`).toEqual(new Set([first.eventId, second.eventId]));
    // The window opened when the first result arrived, which was after it was written, so the
    // batch cannot have closed before windowMs from then.
    expect(call.at - producedAt, `round ${round}`).toBeGreaterThanOrEqual(windowMs);
    expect(call.at - availableAt, `round ${round}`).toBeLessThanOrEqual(windowMs + slackMs);
  }
  await world.waitCommitted();
  expect(world.calls().map((c) => [c.batchSize, c.status])).toEqual([
    [2, 200],
    [2, 200],
    [2, 200],
  ]);
}, 90_000);

it('dead-letters an invalid result on its own and acknowledges the rest', async () => {
  const results = world.results(10, (i) => (i === 4 ? { route: 'FAILED', ackStatus: 'REJECTED', errorDirective: null } : {}));
  const invalid = results[4]!;
  const [meta] = await world.produce(results);
  const aggregator = await world.aggregator();

  const valid = results.filter((r) => r !== invalid).map((r) => r.eventId);
  await world.waitAcknowledged(valid);
  await world.waitCommitted();
  expect(sim.cognigy.acknowledged.has(invalid.eventId)).toBe(false);
  expect(world.calls().map((c) => c.status)).toEqual([200]);

  const dlq = await world.reader([world.topics.dlq]);
  await waitFor(() => dlq.length >= 1, { what: 'the dead letter' });
  expect(dlq).toHaveLength(1);
  const letter = dlq[0]!;
  expect(letter.headers).toMatchObject({
    [Header.eventId]: invalid.eventId,
    [Header.correlationId]: invalid.correlationId,
    [Header.dlqReason]: 'invalid-ack-item',
    [Header.originalTopic]: world.topics.results,
    [Header.errorClass]: 'InvalidAckItem',
  });
  expect(letter.headers[Header.errorMessage]).toContain('needs an errorDirective');
  expect(letter.headers[Header.firstFailedAt]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(letter.key).toBe(invalid.sessionId);
  expect((await world.resultSerde.decode(letter.value as Buffer)).eventId).toBe(invalid.eventId);
  expect(meta?.topicName).toBe(world.topics.results);
  expect(metricValue(await scrape(aggregator.url), 'ack_dead_lettered_total', { reason: 'invalid-ack-item' })).toBe(1);
}, 90_000);

it('dead-letters a batch Cognigy refuses with 400, with the answer, and moves on', async () => {
  sim.cognigy.inject({ badRequest: 1 });
  const refused = world.results(3);
  await world.produce(refused);
  await world.aggregator();

  const dlq = await world.reader([world.topics.dlq]);
  await waitFor(() => dlq.length >= 3, { what: 'the refused batch in the DLQ' });
  await world.waitCommitted();
  expect(dlq.map((r) => r.headers[Header.eventId]).sort()).toEqual(refused.map((r) => r.eventId).sort());
  for (const letter of dlq) {
    expect(letter.headers[Header.dlqReason]).toBe('ack-batch-rejected');
    expect(letter.headers[Header.errorMessage]).toContain('injected fault');
  }

  const later = world.results(2);
  await world.produce(later);
  await world.waitAcknowledged(later.map((r) => r.eventId));
  await world.waitCommitted();

  const batchRecords = await world.reader([world.topics.ackBatches]);
  await waitFor(() => batchRecords.length >= 4, { what: 'batch records' });
  const phases = (await world.batchRecords(batchRecords)).map((r) => r.phase);
  expect(phases.filter((p) => p === 'DEAD_LETTERED')).toHaveLength(1);
  expect(phases.filter((p) => p === 'ACCEPTED')).toHaveLength(1);
}, 90_000);

it('flushes the open window on shutdown and commits it, over X-API-Key', async () => {
  const aggregator = await world.aggregator({ ACK_WINDOW_MS: '600000', COGNIGY_AUTH: 'api-key', COGNIGY_API_KEY: 'local-api-key' });
  const results = world.results(5);
  await world.produce(results);
  await waitFor(async () => metricValue(await scrape(aggregator.url), 'ack_outstanding_results') === 5, { what: 'results in the open window' });
  expect(world.calls()).toHaveLength(0);

  await aggregator.stop();
  expect(results.every((r) => sim.cognigy.acknowledged.get(r.eventId) === 1)).toBe(true);
  expect(await world.fullyCommitted()).toBe(true);
  expect(world.calls().map((c) => c.auth)).toEqual(['api-key']);
  expect(sim.cognigy.tokenRequests).toHaveLength(0);
}, 90_000);
