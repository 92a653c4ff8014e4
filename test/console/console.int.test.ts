import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterDetail, DeadLetterPage, EventPath, FlowView, RedriveView, ReplayView } from '../../services/console/views.js';
import { waitFor } from '../support/wait.js';
import { CONSOLE_TOKEN, confidentCallback, consoleApi, send, startConsoleWorld, type ConsoleWorld } from './support.js';

/**
 * The console against the real pipeline, in both delivery modes: what it shows follows the
 * callbacks sent, and a redrive from it brings a dead letter's callback to a result.
 */
describe.each([
  { mode: 'at-least-once', exactlyOnce: false },
  { mode: 'exactly-once', exactlyOnce: true },
])('the operator console ($mode)', ({ exactlyOnce }) => {
  let world: ConsoleWorld;

  beforeAll(async () => {
    world = await startConsoleWorld(exactlyOnce ? 'console-eos' : 'console-alo', { EXACTLY_ONCE: String(exactlyOnce) });
  }, 120_000);

  afterAll(async () => {
    await world?.pipeline.stop();
  });

  it('refuses the page and the API without the token, and opens both with it or its login cookie', async () => {
    const page = await fetch(`${world.url}/`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('data-testid="login-token"');
    for (const path of ['/api/session', '/api/flow', '/api/dead-letters', '/api/batches', '/api/events/x']) {
      expect((await fetch(`${world.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${world.url}${path}`, { headers: { authorization: 'Bearer not-the-console-token' } })).status, path).toBe(401);
    }
    const redrive = await fetch(`${world.url}/api/dead-letters/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"execute":true}' });
    expect(redrive.status).toBe(401);

    expect((await fetch(`${world.url}/`, { headers: { authorization: `Bearer ${CONSOLE_TOKEN}` } })).status).toBe(200);
    const wrong = await fetch(`${world.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'guess' }) });
    expect(wrong.status).toBe(401);
    const login = await fetch(`${world.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: CONSOLE_TOKEN }) });
    expect(login.status).toBe(204);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain(CONSOLE_TOKEN);
    const withCookie = await fetch(`${world.url}/api/session`, { headers: { cookie: cookie.split(';')[0] as string } });
    expect(withCookie.status).toBe(200);
    // The session view names groups and topics, never a secret of the pipeline.
    const text = JSON.stringify(await withCookie.json());
    for (const secret of [CONSOLE_TOKEN, 'console-webhook-secret']) expect(text).not.toContain(secret);
  });

  it('counts the callbacks sent at every stage, with the groups’ lag and the breaker', async () => {
    const before = await waitFor(async () => (await consoleApi<FlowView>(world, '/flow')).json, { what: 'a first flow sample' });
    for (let i = 0; i < 20; i += 1) await send(world, confidentCallback(`flow-session-${i % 4}`, i));
    const after = await waitFor(
      async () => {
        const flow = (await consoleApi<FlowView>(world, '/flow')).json;
        const fulfilled = Object.values(flow.fulfilled).reduce((n, r) => n + r.total, 0);
        return flow.received.total >= before.received.total + 20 && flow.acknowledged.total >= before.acknowledged.total + 20 && fulfilled >= 20 && flow;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the flow to count 20 callbacks received, fulfilled and acknowledged' },
    );
    expect(after.sources.every((s) => s.ok), JSON.stringify(after.sources)).toBe(true);
    expect(after.received.perSecond).not.toBeNull();
    expect(after.breaker.state).toBe('closed');
    const lagGroups = new Set(after.lag.map((row) => row.group));
    expect(lagGroups.has(world.groups.fulfillment) && lagGroups.has(world.groups.acks)).toBe(true);
  }, 90_000);

  it('shows a dead letter with its Cognigy body, redrives it after a dry run, and its callback reaches a result and a batch', async () => {
    const { downstream } = world.pipeline.simulator;
    downstream.setFaults({ errorRate: 0, script: [422] });
    const eventId = await send(world, { ...confidentCallback('dead-letter-session', 1), note: 'refused downstream' });

    const row = await waitFor(
      async () => (await consoleApi<DeadLetterPage>(world, '/dead-letters?session=dead-letter-session')).json.rows.find((r) => r.eventId === eventId),
      { timeoutMs: 30_000, intervalMs: 250, what: 'the refused callback in the dead-letter table' },
    );
    expect(row).toMatchObject({ reason: 'non-retriable', sessionId: 'dead-letter-session', redriven: false });
    const detail = (await consoleApi<DeadLetterDetail>(world, `/dead-letters/${row.partition}/${row.offset}`)).json;
    expect(detail.headers['dlq-reason']).toBe('non-retriable');
    expect(detail.body).toMatchObject({ sessionId: 'dead-letter-session', note: 'refused downstream' });

    const selection = [{ partition: row.partition, offset: row.offset }];
    const dryRun = await consoleApi<RedriveView>(world, '/dead-letters/redrive', { selection, execute: false });
    expect(dryRun.json).toMatchObject({ outcome: 'planned', selected: 1, moved: 0 });
    expect((await consoleApi<DeadLetterPage>(world, '/dead-letters?session=dead-letter-session')).json.rows[0]?.redriven).toBe(false);

    const applied = await consoleApi<RedriveView>(world, '/dead-letters/redrive', { selection, execute: true });
    expect(applied.json).toMatchObject({ outcome: 'applied', moved: 1 });
    await waitFor(async () => (await consoleApi<DeadLetterPage>(world, '/dead-letters?session=dead-letter-session')).json.rows[0]?.redriven, {
      what: 'the dead letter shown as redriven',
    });
    const again = await consoleApi<RedriveView>(world, '/dead-letters/redrive', { selection, execute: false });
    expect(again.json).toMatchObject({ outcome: 'nothing-to-do', selected: 0, moved: 0 });

    const path = await waitFor(
      async () => {
        const p = (await consoleApi<EventPath>(world, `/events/${eventId}`)).json;
        return p.results.some((r) => r.route === 'FULFILLED') && p.batches.some((b) => b.phase === 'ACCEPTED' && b.status === 'ACKNOWLEDGED') && p;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the redriven callback fulfilled and acknowledged in a batch' },
    );
    expect(path.accepted).toMatchObject({ sessionId: 'dead-letter-session' });
    expect(path.results.map((r) => r.route)).toEqual(['REJECTED', 'FULFILLED']);
    expect(path.deadLetters).toEqual([expect.objectContaining({ partition: row.partition, offset: row.offset, redriven: true })]);
    const accepted = path.batches.find((b) => b.phase === 'ACCEPTED' && b.status === 'ACKNOWLEDGED')!;
    expect(accepted.processedCount).toBeGreaterThan(0);
    expect(world.pipeline.simulator.cognigy.acknowledged.get(eventId)).toBeGreaterThan(0);
  }, 120_000);

  it('plans a replay as a dry run and applies none while the group runs or without its name typed', async () => {
    const topic = `${world.prefix}cognigy.callbacks.v1`;
    const plan = await consoleApi<ReplayView>(world, `/replay/plan?group=${world.groups.fulfillment}&topic=${topic}&to=earliest`);
    expect(plan.status).toBe(200);
    expect(plan.json.partitions.length).toBeGreaterThan(0);
    expect(plan.json.totalReprocess).toBeGreaterThan(0);
    expect(plan.json.activeMembers).toBeGreaterThan(0);

    const unconfirmed = await consoleApi(world, '/replay', { group: world.groups.fulfillment, topic, to: 'earliest', confirmGroup: 'fulfillment' });
    expect(unconfirmed).toMatchObject({ status: 400, json: { field: 'confirmGroup' } });
    const running = await consoleApi<ReplayView>(world, '/replay', { group: world.groups.fulfillment, topic, to: 'earliest', confirmGroup: world.groups.fulfillment });
    expect(running.status).toBe(409);
    expect(running.json.outcome).toBe('refused');
    const unknown = await consoleApi(world, `/replay/plan?group=someone-else&topic=${topic}&to=earliest`);
    expect(unknown).toMatchObject({ status: 400, json: { field: 'group' } });
  });
});
