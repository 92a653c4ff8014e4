import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { REPLAY_HEADER } from '../../shared/stage/dedup-store.js';
import { waitFor } from '../support/wait.js';
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

it('acknowledges an event id once across restarts and windows, and a replayed result once more', { timeout: 120_000 }, async () => {
  const env = { ACK_WINDOW_MS: '300' };
  const first = await world.aggregator(env);
  const answered = world.results(20);
  await world.produce(answered);
  await world.waitAcknowledged(answered.map((r) => r.eventId));
  await world.waitCommitted();
  await first.stop();

  // A new member: what the first acknowledged is known from the changelog, not from its memory.
  const second = await world.aggregator(env);
  const fresh = world.results(5);
  // Fulfillment answered these twice (a repeat after its restart), and the fresh ones twice in one window.
  await world.produce([...answered, ...fresh, ...fresh]);
  // An operator replayed two callbacks: their corrected results are acknowledged once more.
  const replayed = answered.slice(0, 2);
  await world.produce(replayed, { [REPLAY_HEADER]: 'replay-1' });
  await world.produce(replayed, { [REPLAY_HEADER]: 'replay-1' });
  await world.waitAcknowledged(fresh.map((r) => r.eventId));
  await waitFor(() => replayed.every((r) => sim.cognigy.acknowledged.get(r.eventId) === 2), { timeoutMs: 60_000, what: 'the replayed results to be acknowledged again' });
  await world.waitCommitted();

  const counts = (ids: string[]) => ids.map((id) => sim.cognigy.acknowledged.get(id));
  expect(counts(answered.slice(2).map((r) => r.eventId)).filter((n) => n !== 1)).toEqual([]);
  expect(counts(replayed.map((r) => r.eventId))).toEqual([2, 2]);
  expect(counts(fresh.map((r) => r.eventId))).toEqual([1, 1, 1, 1, 1]);
  // 20 repeats, 5 repeats within one window, 2 repeats within the replay.
  expect(metricValue(await scrape(second.url), 'ack_duplicates_total')).toBe(27);
});
