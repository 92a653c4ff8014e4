import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { Harness, metricValue, scrape } from './support.js';

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

it('loses nothing while Cognigy is down for 30 s and delivers every ack once after it returns', async () => {
  const outageMs = 30_000;
  const aggregator = await world.aggregator({
    ACK_MAX_BATCH: '50',
    ACK_WINDOW_MS: '500',
    ACK_MAX_PENDING: '200',
    COGNIGY_RETRY_BASE_DELAY_MS: '200',
    COGNIGY_RETRY_MAX_DELAY_MS: '3000',
  });
  const before = world.results(100);
  await world.produce(before);
  await world.waitAcknowledged(before.map((r) => r.eventId));
  await world.waitCommitted();
  const committedBefore = await world.committed();

  // Connections reset: the network-error path. Results keep arriving meanwhile, more than the
  // aggregator holds in memory, so it also has to stop fetching (and keep its group membership).
  sim.cognigy.inject({ outage: { durationMs: outageMs, mode: 'reset' } });
  const downUntil = Date.now() + outageMs;
  const during = world.results(600);
  let committedDuringOutage = false;
  let mostHeld = 0;
  for (let i = 0; i < during.length; i += 30) {
    await world.produce(during.slice(i, i + 30));
    const committed = await world.committed();
    if (Date.now() < downUntil - 1_000) committedDuringOutage ||= [...committed].some(([p, o]) => o !== committedBefore.get(p));
    mostHeld = Math.max(mostHeld, metricValue(await scrape(aggregator.url), 'ack_outstanding_results'));
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the arrival pace during the outage
  }
  expect(Date.now()).toBeLessThan(downUntil);
  expect(committedDuringOutage).toBe(false);
  // It held results up to its limit and then stopped fetching, rather than taking all 600.
  expect(mostHeld).toBeGreaterThanOrEqual(200);
  expect(mostHeld).toBeLessThan(400);
  expect(sim.cognigy.acknowledged.size).toBe(100);

  const all = [...before, ...during];
  await world.waitAcknowledged(all.map((r) => r.eventId), 90_000);
  await world.waitCommitted(60_000);
  expect(Date.now()).toBeGreaterThanOrEqual(downUntil);
  expect(sim.cognigy.acknowledged.size).toBe(700);
  expect(all.every((r) => sim.cognigy.acknowledged.get(r.eventId) === 1)).toBe(true);

  const metrics = await scrape(aggregator.url);
  expect(metricValue(metrics, 'ack_submit_failures_total', { error: 'CognigyUnavailable' })).toBeGreaterThan(0);
  expect(metricValue(metrics, 'ack_items_total')).toBe(700);
  // Heartbeats went on while it waited: the member never left the group.
  expect(world.logs.filter((l) => l.msg === 'joined the consumer group')).toHaveLength(1);
}, 180_000);
