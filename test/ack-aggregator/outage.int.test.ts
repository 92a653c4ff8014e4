import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { waitFor } from '../support/wait.js';
import { commitsAheadOfAcks, Harness, metricValue, scrape } from './support.js';

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

it('commits nothing Cognigy has not acknowledged while it is down for 30 s, holds no more than its limit, and delivers every ack once after it returns', async () => {
  const outageMs = 30_000;
  const maxPending = 200;
  const chunk = 30;
  const aggregator = await world.aggregator({
    ACK_MAX_BATCH: '50',
    ACK_WINDOW_MS: '500',
    ACK_MAX_PENDING: String(maxPending),
    COGNIGY_RETRY_BASE_DELAY_MS: '200',
    COGNIGY_RETRY_MAX_DELAY_MS: '3000',
  });
  const written = await world.reader([world.topics.results]);
  const commits = world.watchCommits();
  const held = async () => metricValue(await scrape(aggregator.url), 'ack_outstanding_results');

  const before = world.results(100);
  await world.produce(before);
  await world.waitAcknowledged(before.map((r) => r.eventId));
  await world.waitCommitted();
  const committedBefore = await world.committed();

  // Connections reset: the network-error path.
  const startedAt = Date.now();
  sim.cognigy.inject({ outage: { durationMs: outageMs, mode: 'reset' } });
  const downUntil = sim.cognigy.faults.outage?.until ?? 0;
  const during = world.results(600);
  const duringIds = new Set(during.map((r) => r.eventId));
  const anyOfDuring = (acknowledged: Iterable<string>) => [...acknowledged].some((id) => duringIds.has(id));

  // Results keep arriving, a chunk once the aggregator took the one before, until it holds its
  // limit; the rest then waits in Kafka, and the aggregator has to stop fetching while keeping its
  // group membership. Meanwhile no offset may move: nothing it holds was acknowledged.
  let sent = 0;
  while ((await held()) < maxPending) {
    await world.produce(during.slice(sent, sent + chunk));
    sent += chunk;
    await waitFor(
      async () => {
        expect(await world.committed(), 'offsets committed while Cognigy is down').toEqual(committedBefore);
        return (await held()) >= Math.min(sent, maxPending);
      },
      { what: `the aggregator to take ${sent} results` },
    );
  }
  await world.produce(during.slice(sent));
  // Still down, with time left for the aggregator to take results it must not take.
  expect(anyOfDuring(sim.cognigy.acknowledged.keys())).toBe(false);
  expect(downUntil - Date.now()).toBeGreaterThan(10_000);

  // Until Cognigy takes a batch again nothing can finish, so what the aggregator holds only grows
  // if it fetches past its limit. Each count is read before the acknowledgments are looked at.
  let mostHeld = 0;
  await waitFor(
    async () => {
      const now = await held();
      if (anyOfDuring(sim.cognigy.acknowledged.keys())) return true;
      mostHeld = Math.max(mostHeld, now);
      return false;
    },
    { timeoutMs: outageMs + 30_000, intervalMs: 200, what: 'Cognigy to take a batch again' },
  );
  expect(mostHeld).toBeGreaterThanOrEqual(maxPending);
  expect(mostHeld).toBeLessThan(maxPending + chunk);

  const all = [...before, ...during];
  await world.waitAcknowledged(all.map((r) => r.eventId), 90_000);
  await world.waitCommitted(60_000);
  await commits.stop();
  await waitFor(() => written.length >= all.length, { what: 'the results read back' });

  // At no reading was an offset committed past a result Cognigy had not acknowledged by then.
  expect(commitsAheadOfAcks(commits.readings, written)).toEqual([]);
  // While Cognigy was down (every reading taken before it acknowledged any result written during the
  // outage), the offsets stayed where they were.
  const whileDown = commits.readings.filter((r) => r.askedAt >= startedAt && !anyOfDuring(r.acknowledged));
  expect(whileDown.length).toBeGreaterThan(10);
  for (const reading of whileDown) expect(reading.committed).toEqual(committedBefore);

  // After it came back every result was acknowledged once; all are committed, so none is sent again.
  expect(sim.cognigy.acknowledged.size).toBe(all.length);
  expect(all.filter((r) => sim.cognigy.acknowledged.get(r.eventId) !== 1)).toEqual([]);

  const metrics = await scrape(aggregator.url);
  expect(metricValue(metrics, 'ack_submit_failures_total', { error: 'CognigyUnavailable' })).toBeGreaterThan(0);
  expect(metricValue(metrics, 'ack_items_total')).toBe(all.length);
  // Heartbeats went on while it waited: the member never left the group.
  expect(world.logs.filter((l) => l.msg === 'joined the consumer group')).toHaveLength(1);
}, 180_000);
