import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { batchIdentity } from '../../services/ack-aggregator/batching.js';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
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
  sim.cognigy.settings.tokenLifetimeS = 3_600;
  world = await new Harness(sim).start();
});
afterEach(async () => {
  await world.close();
});

it('refreshes a token that is about to expire before sending the next batch', async () => {
  // 8 s tokens replaced 4 s before they expire (30 s in production, where tokens live an hour):
  // a token is "about to expire" 4 s after it was issued.
  sim.cognigy.settings.tokenLifetimeS = 8;
  await world.aggregator({ COGNIGY_TOKEN_REFRESH_BEFORE_MS: '4000' });
  const first = world.results(3);
  await world.produce(first);
  await world.waitAcknowledged(first.map((r) => r.eventId));
  const issuedAt = sim.cognigy.tokens[0]!.issuedAt;
  await waitFor(() => Date.now() > issuedAt + 4_200, { what: 'the first token to enter its refresh margin' });

  const second = world.results(3);
  await world.produce(second);
  await world.waitAcknowledged(second.map((r) => r.eventId));

  const calls = world.calls();
  expect(calls.map((c) => c.status)).toEqual([200, 200]);
  expect(sim.cognigy.tokens).toHaveLength(2);
  expect(calls[0]!.token).toBe(sim.cognigy.tokens[0]!.token);
  expect(calls[1]!.token).toBe(sim.cognigy.tokens[1]!.token);
  expect(sim.cognigy.tokens[1]!.issuedAt).toBeLessThanOrEqual(calls[1]!.at);
  // The old token was still valid: it was replaced early, not after a 401.
  expect(sim.cognigy.tokens[0]!.expiresAt).toBeGreaterThan(calls[1]!.at);
}, 90_000);

it('on a 401 refreshes the token once and the batch succeeds', async () => {
  await world.aggregator();
  const first = world.results(2);
  await world.produce(first);
  await world.waitAcknowledged(first.map((r) => r.eventId));

  sim.cognigy.inject({ expireTokens: true });
  const second = world.results(2);
  await world.produce(second);
  await world.waitAcknowledged(second.map((r) => r.eventId));
  await world.waitCommitted();

  const [t1, t2] = sim.cognigy.tokens.map((t) => t.token);
  expect(sim.cognigy.tokens).toHaveLength(2);
  expect(world.calls().map((c) => [c.status, c.token])).toEqual([
    [200, t1],
    [401, t1],
    [200, t2],
  ]);
  expect([...sim.cognigy.acknowledged.values()]).toEqual([1, 1, 1, 1]);
}, 90_000);

it('waits out Retry-After: 2 before retrying a 429', async () => {
  sim.cognigy.inject({ rateLimit: { count: 1, retryAfterS: 2 } });
  const aggregator = await world.aggregator();
  const results = world.results(3);
  await world.produce(results);
  await world.waitAcknowledged(results.map((r) => r.eventId));
  await world.waitCommitted();

  const [limited, retried] = world.calls();
  expect(limited).toMatchObject({ status: 429 });
  expect(retried).toMatchObject({ status: 200, idempotencyKey: limited!.idempotencyKey });
  expect(retried!.at - limited!.answeredAt!).toBeGreaterThanOrEqual(2_000);
  expect(retried!.at - limited!.answeredAt!).toBeLessThan(4_000);
  expect(metricValue(await scrape(aggregator.url), 'ack_submit_failures_total', { error: 'CognigyRateLimited' })).toBe(1);
}, 90_000);

it('counts a 409 as success and commits the offsets', async () => {
  // One session, one partition, one send: the batch will cover exactly these offsets.
  const results = world.results(5, () => ({ sessionId: 'same-session' }));
  const [meta] = await world.produce(results);
  const partition = meta!.partition;
  const from = Number(meta!.baseOffset);
  const { idempotencyKey } = batchIdentity([{ topic: world.topics.results, partition, fromOffset: from, toOffset: from + 4 }]);
  // Cognigy already applied this batch (say, before a crash): it answers 409.
  sim.cognigy.applied.set(idempotencyKey, { batchId: 'earlier', idempotencyKey, at: Date.now(), size: 5 });

  const aggregator = await world.aggregator();
  await waitFor(async () => (await world.committed()).get(partition) === from + 5, { timeoutMs: 60_000, what: 'the 409 batch committed' });

  expect(world.calls().map((c) => [c.status, c.idempotencyKey])).toEqual([[409, idempotencyKey]]);
  expect(sim.cognigy.acknowledged.size).toBe(0);
  const metrics = await scrape(aggregator.url);
  expect(metricValue(metrics, 'ack_batches_total', { outcome: 'duplicate' })).toBe(1);
  expect(world.logs.find((l) => l.audit === 'ack-batch')).toMatchObject({ status: 'ACCEPTED', httpStatus: 409, duplicate: true, idempotencyKey });
}, 90_000);

it('does not commit a batch whose counts do not add up, retries it, and shows it in metrics and logs', async () => {
  sim.cognigy.inject({ countMismatch: 1 });
  const aggregator = await world.aggregator({ COGNIGY_RETRY_BASE_DELAY_MS: '1500', COGNIGY_RETRY_MAX_DELAY_MS: '5000' });
  const results = world.results(4);
  await world.produce(results);

  await waitFor(() => world.calls().length >= 1, { what: 'the first batch call' });
  // Between the mismatched answer and the retry, nothing may be committed.
  const committedMeanwhile: number[] = [];
  await waitFor(
    async () => {
      const committed = await world.committed();
      // Read after the offsets: a commit seen before the retry arrived was made without it.
      if (world.calls().length >= 2) return true;
      committedMeanwhile.push(...[...committed.values()].filter((o) => o >= 0));
      return false;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'the retry' },
  );
  expect(committedMeanwhile).toEqual([]);
  await world.waitAcknowledged(results.map((r) => r.eventId));
  await world.waitCommitted();

  const [mismatch, retry] = world.calls();
  expect(mismatch).toMatchObject({ status: 200, batchSize: 4 });
  expect(retry).toMatchObject({ status: 200, idempotencyKey: mismatch!.idempotencyKey });
  expect([...sim.cognigy.acknowledged.values()]).toEqual([1, 1, 1, 1]);
  expect(metricValue(await scrape(aggregator.url), 'ack_count_mismatches_total')).toBe(1);
  const warning = world.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('count mismatch'));
  expect(warning).toMatchObject({ idempotencyKey: mismatch!.idempotencyKey, batchSize: 4, answer: { processedCount: 3, failedCount: 0 } });
}, 90_000);
