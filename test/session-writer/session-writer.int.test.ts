import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { LOCAL_DLQ_NOTIFY_SECRET, NOTIFICATIONS_PATH } from '../../services/cognigy-simulator/notifications.js';
import { Header } from '../../shared/headers.js';
import { waitFor } from '../support/wait.js';
import { Harness, type Spec } from './support.js';

let sim: RunningSimulator;
let h: Harness;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});
afterEach(async () => {
  await h?.close();
  sim.cognigy.clearFaults();
});

/** Callback offsets 1..5 of each session, their results arriving out of order: 3, 1, 5, then 2 and 4 late. */
function lateArrivals(sessions: string[]): Spec[] {
  return [3, 1, 5, 2, 4].flatMap((offset) => sessions.map((session) => ({ session, offset })));
}

/** Per session, the callback offsets in the order their variables were written. */
function writeOrder(harness: Harness): Map<string, number[]> {
  const order = new Map<string, number[]>();
  for (const call of harness.calls()) {
    if (call.status !== 200) continue;
    const offset = Number(String(call.variables?.last_event).split('@')[1]);
    order.set(call.sessionId, [...(order.get(call.sessionId) ?? []), offset]);
  }
  return order;
}

describe('session writer', () => {
  it("writes each session's newest callback and never an older one over it, however late its result arrives", async () => {
    h = await new Harness(sim).start();
    const sessions = Array.from({ length: 20 }, (_, i) => `s${i}`);
    await h.writer();
    await h.produce(lateArrivals(sessions));
    await h.waitCommitted();

    for (const session of sessions) {
      expect(h.variables(session), session).toEqual({
        processed_intent: 'book_flight',
        processed_response: { text: 'answer to 5' },
        webhook_processed: true,
        last_event: h.eventId({ session, offset: 5 }),
      });
    }
    // Writes of one session only ever move forward in its own order.
    for (const [session, offsets] of writeOrder(h)) {
      expect(offsets, session).toEqual([...offsets].sort((a, b) => a - b));
      expect(offsets.at(-1), session).toBe(5);
    }
    // Only the newest needs writing: fewer calls than results.
    expect(h.calls().length).toBeLessThan(sessions.length * 5);
  });

  it('reads only committed results: an aborted transaction is never written (what EXACTLY_ONCE fulfillment leaves behind)', async () => {
    h = await new Harness(sim).start();
    await h.writer();
    await h.produce([{ session: 'eos', offset: 1 }]);
    await h.produceAborted([{ session: 'eos', offset: 9 }]);
    await h.produce([{ session: 'eos', offset: 2 }]);
    await h.waitCommitted();
    await waitFor(() => h.variables('eos')?.last_event === h.eventId({ session: 'eos', offset: 2 }), { what: 'offset 2 written' });
    expect(writeOrder(h).get(h.session('eos'))).not.toContain(9);
  });

  it('writes with the OAuth2 client when SESSION_WRITER_AUTH=oauth2', async () => {
    h = await new Harness(sim).start();
    await h.writer({ SESSION_WRITER_AUTH: 'oauth2', COGNIGY_API_KEY: '' });
    await h.produce([{ session: 'oauth', offset: 1 }]);
    await h.waitCommitted();
    expect(h.calls().map((c) => [c.auth, c.status])).toEqual([['bearer', 200]]);
    expect(sim.cognigy.tokens.at(-1)?.scope).toBe('session:write');
  });

  it('dead-letters a gone session (404) with its context, announces it, and keeps writing the others', async () => {
    h = await new Harness(sim).start();
    sim.cognigy.inject({ goneSessions: [h.session('gone')] });
    const dlq = await h.reader(h.topics.dlq);
    await h.writer({ DLQ_NOTIFY_URL: `${sim.url}${NOTIFICATIONS_PATH}`, DLQ_NOTIFY_SECRET: LOCAL_DLQ_NOTIFY_SECRET });
    await h.produce([
      { session: 'gone', offset: 1 },
      { session: 'alive', offset: 1 },
    ]);
    await h.waitCommitted();
    expect(h.variables('alive')).toMatchObject({ last_event: h.eventId({ session: 'alive', offset: 1 }) });
    const dead = await waitFor(() => dlq.find((r) => r.headers[Header.eventId] === h.eventId({ session: 'gone', offset: 1 })), { what: 'the dead letter' });
    expect(dead.key).toBe(h.session('gone'));
    expect(dead.headers).toMatchObject({
      [Header.dlqReason]: 'session-gone',
      [Header.errorClass]: 'SessionGone',
      [Header.originalTopic]: h.topics.results,
      [Header.callbackOffset]: '1',
    });
    // The value is the result as it was: whoever reads the DLQ decodes it with the results schema.
    expect((await h.resultSerde.decode(dead.value!)).sessionId).toBe(h.session('gone'));
    const notice = await waitFor(
      () => sim.notifications.accepted().find((n) => JSON.stringify(n.body).includes(h.eventId({ session: 'gone', offset: 1 }))),
      { what: 'the dead-letter notification' },
    );
    expect(notice.body).toMatchObject({ data: { service: 'session-writer', reason: 'session-gone', errorClass: 'SessionGone', sessionId: h.session('gone') } });
  });

  it('stops with one clear line on 401, without burning calls or committing', async () => {
    h = await new Harness(sim).start();
    const writer = await h.writer({ COGNIGY_API_KEY: 'revoked-key', SESSION_WRITER_CONCURRENCY: '2' });
    await h.produce(Array.from({ length: 10 }, (_, i) => ({ session: `k${i}`, offset: 1 })));
    await waitFor(() => h.fatal.length > 0, { what: 'the writer to stop' });
    await waitFor(() => !writer.live() && h.logs.some((l) => l.msg === 'session-writer stopped'), { what: 'the stage stopped' });
    const fatal = h.logs.filter((l) => l.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toMatch(/^session writer stopped: Cognigy refused the credentials with 401.*COGNIGY_API_KEY/);
    // At most one refused call per worker: none retried.
    expect(h.calls().length).toBeLessThanOrEqual(2);
    expect(h.calls().every((c) => c.status === 401)).toBe(true);
    expect(await h.committedTotal()).toBe(0);
  });

  it('holds the call rate under its budget through a 429 storm, honouring Retry-After, and loses nothing', async () => {
    h = await new Harness(sim).start();
    // 3,000 per five minutes: the writer uses 2,700, at most 8.55 per second once its burst of 135
    // is spent. Its bucket starts empty, so from its start no more than that rate has dripped in.
    const perSecond = 2_565 / 300;
    sim.cognigy.inject({ variablesRateLimit: { count: 6, retryAfterS: 1 } });
    const startedAt = Date.now();
    await h.writer({ SESSION_WRITER_MAX_PER_5MIN: '3000', SESSION_WRITER_CONCURRENCY: '4' });
    const sessions = Array.from({ length: 60 }, (_, i) => `r${i}`);
    await h.produce(sessions.map((session) => ({ session, offset: 1 })));
    await h.waitCommitted(120_000);

    for (const session of sessions) expect(h.variables(session), session).toMatchObject({ webhook_processed: true });
    const calls = h.calls();
    expect(calls.filter((c) => c.status === 429)).toHaveLength(6);
    // Every prefix of the run stays within what the bucket allows since the writer started.
    expect(calls.length).toBeGreaterThan(60);
    calls.forEach((call, i) => {
      expect(i + 1, `call ${i + 1} at +${call.at - startedAt} ms`).toBeLessThanOrEqual(Math.ceil(((call.at - startedAt) / 1_000) * perSecond) + 1);
    });
    // After a 429 with Retry-After: 1, only calls already under way may arrive within that second.
    for (const limited of calls.filter((c) => c.status === 429)) {
      const within = calls.filter((c) => c.at > limited.at && c.at < limited.at + 900);
      expect(within.length, `calls within 1 s after the 429 at +${limited.at - startedAt} ms`).toBeLessThanOrEqual(4);
    }
  });

  it('waits out a 60 s Cognigy outage, committing nothing it has not written, then writes everything', async () => {
    h = await new Harness(sim).start();
    const writer = await h.writer();
    await h.produce([{ session: 'before', offset: 1 }]);
    await h.waitCommitted();
    const committedBefore = await h.committedTotal();

    sim.cognigy.inject({ outage: { durationMs: 60_000, mode: 'status' } });
    const outageEnds = Date.now() + 60_000;
    const sessions = Array.from({ length: 30 }, (_, i) => `o${i}`);
    await h.produce(sessions.map((session) => ({ session, offset: 1 })));
    const refused = async () => (await writer.metrics.getSingleMetric('session_writer_calls_total')!.get()).values.find((v) => v.labels.answer === 'unavailable')?.value ?? 0;
    await waitFor(async () => (await refused()) > 0, { what: 'calls refused by the outage' });
    // While Cognigy is out, the offsets stay where they were.
    await waitFor(() => Date.now() > outageEnds - 5_000, { timeoutMs: 70_000, intervalMs: 1_000, what: 'the outage to near its end' });
    expect(await h.committedTotal()).toBe(committedBefore);

    await h.waitCommitted(90_000);
    for (const session of sessions) expect(h.variables(session), session).toMatchObject({ last_event: h.eventId({ session, offset: 1 }) });
    const outageSessions = new Set(sessions.map((s) => h.session(s)));
    const written = h.calls().filter((c) => c.status === 200 && outageSessions.has(c.sessionId));
    expect(written).toHaveLength(sessions.length);
    expect(Math.min(...written.map((c) => c.at))).toBeGreaterThanOrEqual(outageEnds - 1_000);
  }, 150_000);
});
