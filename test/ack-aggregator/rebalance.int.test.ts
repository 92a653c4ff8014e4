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
