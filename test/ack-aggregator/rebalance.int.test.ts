import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { waitFor } from '../support/wait.js';
import { Harness } from './support.js';

let sim: RunningSimulator;
let world: Harness;

beforeAll(async () => {
  sim = await startSimulator();
  world = await new Harness(sim).start();
});
afterAll(async () => {
  await world?.close();
  await sim?.close();
});

it('acknowledges every result once while a second member joins the group and the first one leaves', async () => {
  // Slow answers keep batches in flight across the rebalances: a backlog builds and every
  // rebalance splits plans that are still waiting for Cognigy.
  sim.cognigy.inject({ latencyMs: 1500 });
  const env = { ACK_WINDOW_MS: '500', ACK_MAX_BATCH: '40' };
  const first = await world.aggregator(env);
  const results = world.results(360);
  const joinedBefore = () => world.logs.filter((l) => l.msg === 'joined the consumer group').length;
  let second: Awaited<ReturnType<Harness['aggregator']>> | undefined;

  for (let i = 0; i < results.length; i += 20) {
    await world.produce(results.slice(i, i + 20));
    if (i === 100) second = await world.aggregator(env);
    if (i === 240) {
      // Both members are in the group before the first one leaves.
      await waitFor(() => joinedBefore() >= 3, { timeoutMs: 60_000, what: 'both members to join' });
      await first.stop();
    }
    await new Promise((resolve) => setTimeout(resolve, 150)); // the arrival pace
  }

  await world.waitAcknowledged(results.map((r) => r.eventId), 120_000);
  await world.waitCommitted(60_000);
  expect(second).toBeDefined();
  const counts = results.map((r) => sim.cognigy.acknowledged.get(r.eventId));
  expect(counts.filter((n) => n !== 1)).toEqual([]);
  expect(sim.cognigy.acknowledged.size).toBe(360);
  // Batches in flight when the second member took over some of their partitions were resent by it
  // from their plan records, under their key, and answered 409: the path that keeps them single.
  expect(world.calls().filter((c) => c.status === 409).length).toBeGreaterThan(0);
}, 180_000);

it('does not acknowledge again a repeated result delivered after a rebalance while the first one is still with Cognigy', async () => {
  // Fulfillment writes a result again after a restart of its partition (at-least-once); the repeat
  // can arrive when the aggregator's group has just rebalanced and the first result's batch is
  // applied by Cognigy but not yet answered.
  const w = await new Harness(sim).start();
  try {
    sim.cognigy.inject({ delayAfterApply: { count: 1, ms: 10_000 } });
    const env = { ACK_WINDOW_MS: '300', ACK_SESSION_TIMEOUT_MS: '6000' };
    await w.aggregator(env);
    const results = w.results(6);
    await w.produce(results);
    await waitFor(() => w.calls().some((c) => c.applied && c.status === 0 && c.webhookIds.includes(results[0]!.eventId)), {
      timeoutMs: 30_000,
      what: 'the batch applied by Cognigy and not yet answered',
    });

    await w.aggregator(env);
    await w.produce(results);
    await w.waitAcknowledged(results.map((r) => r.eventId), 60_000);
    await w.waitCommitted(60_000);
    expect(results.map((r) => sim.cognigy.acknowledged.get(r.eventId))).toEqual(results.map(() => 1));
  } finally {
    await w.close();
    sim.cognigy.clearFaults();
  }
}, 120_000);
