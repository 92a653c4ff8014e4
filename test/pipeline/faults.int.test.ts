import { afterEach, describe, expect, it } from 'vitest';
import type { LoadGenerator } from '../../tools/soak/load.js';
import { commitsAheadOfAcks, metricValue, watchCommits } from '../ack-aggregator/support.js';
import { testInfra } from '../support/infra-env.js';
import { startTopicReader } from '../support/topic-reader.js';
import { waitFor } from '../support/wait.js';
import { DELIVERY_MODES, FaultWorld } from './support.js';

/**
 * The faults of a production day, short, under steady load and in both delivery modes: the
 * downstream down, Cognigy throttling then failing, every service restarted in turn, members
 * joining and leaving their groups. Each ends with the same check: every callback the ingress
 * answered 202 is acknowledged to Cognigy exactly once, none lost and none twice, and no stage
 * died; `npm run soak` runs the long versions (RELIABILITY.md).
 */

/** Callbacks per second, open loop. */
const RATE = 40;

/** A fault lasts its time; nothing is asserted until it is over. */
const faultLasts = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Slow answers from both sides, so that calls and batches are in flight whenever a member stops or
 * a partition moves: the work a member hands over is never only finished work.
 */
function slowAnswers(world: FaultWorld): void {
  world.sim.downstream.setFaults({ latencyMs: 20, latencyJitterMs: 1_500 });
  world.sim.cognigy.inject({ latencyMs: 300 });
}

/** Until `count` more callbacks are acknowledged: the pipeline moves from end to end. */
async function acknowledgedMore(world: FaultWorld, count: number, what: string): Promise<void> {
  const from = world.sim.cognigy.acknowledged.size;
  await waitFor(() => world.sim.cognigy.acknowledged.size >= from + count, { timeoutMs: 60_000, intervalMs: 100, what });
}

/** Requests by outcome that were sent in `phase`. */
function outcomesIn(load: LoadGenerator, phase: string): Record<string, number> {
  return Object.fromEntries(load.outcomes.get(phase) ?? []);
}

/**
 * The end of every scenario. At-least-once may write a result twice around a rebalance (README
 * "Delivery"); Cognigy must still hear of it once. Exactly-once writes each result once.
 */
async function expectEachAcknowledgedOnce(world: FaultWorld, load: LoadGenerator) {
  await world.settled(load);
  const { census, verdict } = await world.verdict(load);
  const required = verdict.checks.filter((check) => world.exactlyOnce || check.name !== 'no event with two results');
  expect(required.filter((check) => !check.holds).map((check) => `${check.name}: ${check.detail}`), 'the invariant').toEqual([]);
  expect([...load.accepted].filter((id) => census.acknowledged.get(id) !== 1), 'callbacks answered 202 and not acknowledged exactly once').toEqual([]);
  expect(world.deaths, 'fatal errors').toEqual([]);
  return { census, counts: verdict.counts };
}

describe.each(DELIVERY_MODES)('under steady load ($mode)', ({ mode, exactlyOnce }) => {
  let world: FaultWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });

  it('a downstream outage opens the breaker and holds the calls: nothing is dead-lettered, and after it every callback is fulfilled and acknowledged once', async () => {
    const outageMs = 12_000;
    const halfOpenAfterMs = 1_000;
    const consecutiveFailures = 3;
    const maxInFlight = 8;
    world = await FaultWorld.start({
      exactlyOnce,
      env: {
        BREAKER_CONSECUTIVE_FAILURES: String(consecutiveFailures),
        BREAKER_HALF_OPEN_AFTER_MS: String(halfOpenAfterMs),
        FULFILLMENT_MAX_IN_FLIGHT: String(maxInFlight),
        // A callback spends an attempt only on a call the breaker lets through: as it opens, and on
        // a trial (one per half-open period, taken in turn by the waiting callbacks). A dozen
        // trials spread over hundreds of waiting callbacks: five attempts leave room.
        RETRY_MAX_ATTEMPTS: '5',
        RETRY_BASE_DELAY_MS: '500',
        RETRY_MAX_DELAY_MS: '2000',
      },
    });
    const w = world;
    const down = w.sim.downstream;
    const fulfillment = w.fulfillment[0]!;
    let phase = 'before';
    const load = w.load(RATE, { phase: () => phase });
    const sending = load.run();
    await acknowledgedMore(w, RATE, 'acknowledgments before the outage');

    phase = 'outage';
    const startedAt = Date.now();
    down.setFaults({ outage: true });
    await waitFor(() => fulfillment.breakerState() === 'open', { timeoutMs: outageMs, intervalMs: 20, what: 'the breaker to open' });
    const openedAfterMs = Date.now() - startedAt;
    await faultLasts(startedAt + outageMs - Date.now());
    down.setFaults({ outage: false });
    const endedAt = Date.now();
    phase = 'after';
    await acknowledgedMore(w, 2 * RATE, 'acknowledgments after the outage');
    load.stop();
    await sending;
    const { census, counts } = await expectEachAcknowledgedOnce(w, load);

    // Held, not called: opening took its failures (and calls already on their way), then one trial per half-open period.
    const during = down.calls.filter((call) => call.at >= startedAt && call.at < endedAt);
    expect(during.length, 'downstream calls during the outage').toBeLessThanOrEqual(consecutiveFailures + maxInFlight + Math.ceil(outageMs / halfOpenAfterMs) + 1);
    // The ingress went on taking callbacks meanwhile, and the retries covered the outage.
    expect(Object.keys(outcomesIn(load, 'outage'))).toEqual(['2xx']);
    expect(census.deadLettered.size, 'dead letters').toBe(0);
    expect(census.routes, 'results by route').toEqual({ FULFILLED: expect.any(Number), FALLBACK: expect.any(Number) });
    expect(census.acknowledgedStatuses, 'acknowledgments by status').toEqual({ ACKNOWLEDGED: counts.acknowledged });
    const retries = metricValue(await fulfillment.metrics.metrics(), 'fulfillment_retries_total');
    const acceptedDuring = outcomesIn(load, 'outage')['2xx'] ?? 0;
    console.log(
      `[faults ${mode}] downstream outage ${outageMs} ms: breaker open after ${openedAfterMs} ms; ${during.length} downstream calls during it ` +
        `for ${acceptedDuring} callbacks accepted; ${retries} retries; accepted ${counts.accepted}, results ${counts.results} (${counts.resultRecords} records), ` +
        `routes ${JSON.stringify(census.routes)}, acknowledged ${counts.acknowledged} (each once), dead letters 0`,
    );
  }, 150_000);

  it('a 429 storm with Retry-After, then a burst of 500s from Cognigy delays acknowledgments, loses and repeats none, and commits none ahead of Cognigy', async () => {
    const rateLimitedMs = 5_000;
    const serverErrorsMs = 4_000;
    const retryAfterS = 1;
    world = await FaultWorld.start({ exactlyOnce });
    const w = world;
    const cognigy = w.sim.cognigy;
    const written = await startTopicReader(testInfra().kafkaBrokers, [w.topics.results], { readCommitted: true });
    const commits = watchCommits(() => w.committedResults(), () => cognigy.acknowledged.keys());
    try {
      let phase = 'before';
      const load = w.load(RATE, { phase: () => phase });
      const sending = load.run();
      await acknowledgedMore(w, RATE, 'acknowledgments before the storm');

      phase = 'storm';
      const acknowledgedBefore = cognigy.acknowledged.size;
      cognigy.inject({ rateLimit: { count: Number.MAX_SAFE_INTEGER, retryAfterS } });
      const stormAt = Date.now();
      await faultLasts(rateLimitedMs);
      cognigy.clearFaults();
      cognigy.inject({ serverErrors: Number.MAX_SAFE_INTEGER });
      const burstAt = Date.now();
      await faultLasts(serverErrorsMs);
      const acknowledgedDuring = cognigy.acknowledged.size - acknowledgedBefore;
      cognigy.clearFaults();
      const calmAt = Date.now();
      phase = 'after';
      await acknowledgedMore(w, 2 * RATE, 'acknowledgments after the storm');
      load.stop();
      await sending;
      const { counts } = await expectEachAcknowledgedOnce(w, load);
      const drainedAfterMs = Date.now() - calmAt;
      await commits.stop();
      await waitFor(() => written.records.length >= counts.resultRecords, { timeoutMs: 30_000, what: 'the results read back' });

      // Delayed: Cognigy applied nothing while it refused, and was asked again all along.
      expect(acknowledgedDuring, 'acknowledgments applied during the storm').toBe(0);
      // A call stamped in the millisecond of a switch may have come just before it: left out.
      const calls = (from: number, to: number) => cognigy.batchCalls.filter((call) => call.at > from && call.at < to);
      const throttled = calls(stormAt, burstAt);
      const failed = calls(burstAt, calmAt);
      expect(throttled.length, 'batch calls answered 429').toBeGreaterThan(0);
      expect(failed.length, 'batch calls answered 500').toBeGreaterThan(0);
      expect([...new Set(throttled.map((call) => call.status))], 'answers while throttled').toEqual([429]);
      expect([...new Set(failed.map((call) => call.status))], 'answers during the burst').toEqual([500]);
      // Retry-After was waited out: a batch answered 429 came back no sooner than it asked.
      const gaps = retryGaps(throttled);
      expect(gaps.length, 'batches retried after a 429').toBeGreaterThan(0);
      expect(Math.min(...gaps), 'shortest wait after a 429 (ms)').toBeGreaterThanOrEqual(retryAfterS * 1_000 - 5);
      // Never committed ahead: at no reading was a result's offset committed before Cognigy had it.
      expect(commitsAheadOfAcks(commits.readings, written.records), 'results committed before Cognigy acknowledged them').toEqual([]);
      console.log(
        `[faults ${mode}] Cognigy 429 for ${rateLimitedMs} ms (Retry-After ${retryAfterS} s) then 500 for ${serverErrorsMs} ms: ` +
          `${throttled.length} calls answered 429 (shortest retry gap ${Math.min(...gaps)} ms), ${failed.length} answered 500, 0 applied; ` +
          `${commits.readings.length} commit readings, none ahead; accepted ${counts.accepted}, acknowledged ${counts.acknowledged} (each once), ` +
          `${counts.resultRecords} result records; all settled ${drainedAfterMs} ms after the storm`,
      );
    } finally {
      await commits.stop();
      await written.stop();
    }
  }, 150_000);

  it('a rolling restart of the ingress, fulfillment and the aggregator under load: each stops within its budget, callbacks are refused only while the ingress is out, every accepted one is acknowledged once', async () => {
    const stopBudgetMs = 10_000;
    world = await FaultWorld.start({
      exactlyOnce,
      // Each write waits up to 100 ms for company: the ingress always has requests in flight.
      env: { SHUTDOWN_TIMEOUT_MS: String(stopBudgetMs), INGRESS_LINGER_MS: '100' },
    });
    const w = world;
    slowAnswers(w);
    let phase = 'steady';
    // A quarter redelivered within 15 s: copies that reach the restarted ingress are written a second time.
    const load = w.load(RATE, { phase: () => phase, duplicates: 0.25, redeliveryWithinMs: 15_000 });
    const sending = load.run();
    await acknowledgedMore(w, RATE, 'acknowledgments before the restarts');
    const took: string[] = [];
    const late: string[] = [];
    // A stop past SHUTDOWN_TIMEOUT_MS ends in a forced exit(1) in production (shared/lifecycle.ts):
    // noted, and the restart goes on without waiting for it.
    const stopping = async (what: string, stop: () => Promise<void>) => {
      const startedAt = Date.now();
      const inTime = await Promise.race([stop().then(() => true), faultLasts(stopBudgetMs).then(() => false)]);
      took.push(`${what} stop ${inTime ? `${Date.now() - startedAt} ms` : `over ${stopBudgetMs} ms`}`);
      if (!inTime) late.push(`${what}: stop() still running after SHUTDOWN_TIMEOUT_MS (${stopBudgetMs} ms)`);
    };
    const starting = async (what: string, start: () => Promise<unknown>) => {
      const startedAt = Date.now();
      await start();
      took.push(`${what} ready after ${Date.now() - startedAt} ms`);
    };

    // Stopped while it handles requests, as a restart under load always finds it.
    const ingress = w.ingress!;
    await waitFor(async () => metricValue(await ingress.metrics.metrics(), 'ingress_in_flight') > 0, { timeoutMs: 10_000, intervalMs: 5, what: 'requests in flight at the ingress' });
    phase = 'ingress out';
    await stopping('ingress', () => w.stopIngress());
    await starting('ingress', () => w.startIngress());
    phase = 'steady';
    await acknowledgedMore(w, RATE, 'acknowledgments after the ingress restart');
    await stopping('fulfillment', () => w.stopMember(w.fulfillment[0]!));
    await starting('fulfillment', () => w.startFulfillment());
    await acknowledgedMore(w, RATE, 'acknowledgments after the fulfillment restart');
    await stopping('aggregator', () => w.stopMember(w.acks[0]!));
    await starting('aggregator', () => w.startAggregator());
    await acknowledgedMore(w, RATE, 'acknowledgments after the aggregator restart');
    load.stop();
    await sending;
    const { counts } = await expectEachAcknowledgedOnce(w, load);

    // Every request that reached an ingress was answered 202, also those in flight as it stopped;
    // only while it was out of the rotation were requests refused, as a load balancer would see it.
    // A request that went out on a kept-alive connection as the stopping ingress closed it never
    // reached it: the client sends it again (`retried`), and that attempt is counted as well.
    const steady = outcomesIn(load, 'steady');
    expect(Object.keys(steady).filter((outcome) => outcome !== '2xx' && outcome !== 'retried'), 'answers while the ingress was in the rotation').toEqual([]);
    expect(steady['2xx']).toBeGreaterThan(0);
    const whileOut = outcomesIn(load, 'ingress out');
    expect(Object.keys(whileOut).filter((outcome) => !['refused', '2xx', 'retried'].includes(outcome)), 'answers while the ingress was out').toEqual([]);
    // Redeliveries that the new ingress could not recognise reached the stages twice, and were dropped there.
    const twice = await w.writtenTwice();
    expect(twice.length, 'callbacks written twice').toBeGreaterThan(0);
    console.log(
      `[faults ${mode}] rolling restart: ${took.join(', ')}; refused while the ingress was out ${whileOut.refused ?? 0}; sent again after a closed kept-alive connection ${(steady.retried ?? 0) + (whileOut.retried ?? 0)}; ` +
        `${load.redeliveries} redeliveries, ${twice.length} callbacks written twice; accepted ${counts.accepted}, ` +
        `acknowledged ${counts.acknowledged} (each once), ${counts.duplicateResults} events with two results`,
    );
    expect(late, 'stops past their budget').toEqual([]);
  }, 150_000);

  it('a second fulfillment and aggregator member joining and leaving every 5 s takes partitions each time, and every accepted callback is acknowledged once', async () => {
    const cycles = 3;
    const dwellMs = 5_000;
    world = await FaultWorld.start({ exactlyOnce });
    const w = world;
    slowAnswers(w);
    const load = w.load(RATE);
    const sending = load.run();
    await acknowledgedMore(w, RATE, 'acknowledgments before the first join');
    const took: string[] = [];
    for (let cycle = 1; cycle <= cycles; cycle += 1) {
      const joinAt = Date.now();
      const [fulfillment, aggregator] = await Promise.all([w.startFulfillment(), w.startAggregator()]);
      const joinedMs = Date.now() - joinAt;
      // Each joining member was given partitions and worked on them before it left.
      const handled = async () => ({
        records: metricValue(await fulfillment.metrics.metrics(), 'fulfillment_records_total'),
        items: metricValue(await aggregator.metrics.metrics(), 'ack_items_total'),
      });
      await waitFor(async () => {
        const { records, items } = await handled();
        return records > 0 && items > 0;
      }, { timeoutMs: 30_000, intervalMs: 100, what: `the members joining in cycle ${cycle} to take work` });
      await faultLasts(joinAt + dwellMs - Date.now());
      const { records, items } = await handled();
      const leaveAt = Date.now();
      await Promise.all([w.stopMember(fulfillment), w.stopMember(aggregator)]);
      took.push(`cycle ${cycle}: joined in ${joinedMs} ms, handled ${records} records and acknowledged ${items} items, left in ${Date.now() - leaveAt} ms`);
      await faultLasts(leaveAt + dwellMs - Date.now());
    }
    load.stop();
    await sending;
    const { counts } = await expectEachAcknowledgedOnce(w, load);
    expect(Object.keys(outcomesIn(load, 'steady'))).toEqual(['2xx']);
    console.log(
      `[faults ${mode}] churn: ${took.join('; ')}; accepted ${counts.accepted}, acknowledged ${counts.acknowledged} (each once), ` +
        `${counts.duplicateResults} events with two results`,
    );
  }, 150_000);
});

/** For each batch answered 429, the wait until the same batch (its Idempotency-Key) was sent again, in ms. */
function retryGaps(calls: readonly { idempotencyKey: string | null; at: number; answeredAt: number | null; status: number }[]): number[] {
  const last = new Map<string, { answeredAt: number | null; status: number }>();
  const gaps: number[] = [];
  for (const call of calls) {
    const key = call.idempotencyKey ?? '';
    const before = last.get(key);
    if (before?.status === 429 && before.answeredAt !== null) gaps.push(call.at - before.answeredAt);
    last.set(key, call);
  }
  return gaps;
}
