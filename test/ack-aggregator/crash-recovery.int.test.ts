import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { waitFor } from '../support/wait.js';
import { Harness } from './support.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let sim: RunningSimulator;
let world: Harness;
const children: ChildProcess[] = [];

/** The aggregator as its own process (its own process group, so a kill reaches tsx's child too). */
function spawnAggregator(env: Record<string, string>): { child: ChildProcess; lines: Record<string, unknown>[] } {
  const child = spawn('npx', ['tsx', 'services/ack-aggregator/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on('data', () => undefined);
  return { child, lines };
}

/** Signals every process of the child's group (npx, tsx and the aggregator itself). */
async function killGroup(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
  try {
    process.kill(-child.pid, signal);
  } catch {
    return; // the group is gone already
  }
  await exited;
}

beforeAll(async () => {
  sim = await startSimulator();
  world = await new Harness(sim).start();
});
afterAll(async () => {
  for (const child of children) await killGroup(child, 'SIGKILL');
  await world?.close();
  await sim?.close();
});

it('after a SIGKILL between Cognigy applying a batch and the commit, resends the same Idempotency-Key and applies every webhookId once', async () => {
  // Two batches of 20 in flight together; Cognigy applies both and answers one of them late: the
  // kill lands after the apply and before that batch's commit.
  const env = world.env({ ACK_MAX_BATCH: '20', ACK_SESSION_TIMEOUT_MS: '6000' });
  const results = world.results(40);
  const batchRecords = await world.reader([world.topics.ackBatches]);
  await world.produce(results);
  sim.cognigy.inject({ delayAfterApply: { count: 1, ms: 120_000 } });

  const first = spawnAggregator(env);
  await waitFor(() => sim.cognigy.applied.size === 2 && world.calls().some((c) => c.status === 200), {
    timeoutMs: 60_000,
    what: 'Cognigy to apply both batches and answer one',
  });
  const unanswered = world.calls().find((c) => c.applied && c.status === 0)!;
  expect(unanswered).toBeDefined();
  // The answered batch's outcome record is what tells the next aggregator not to send it again; a
  // kill before it is written would (rightly) resend that batch too.
  const answered = world.calls().find((c) => c.status === 200)!;
  await waitFor(
    async () => (await world.batchRecords(batchRecords)).some((b) => b.phase === 'ACCEPTED' && b.idempotencyKey === answered.idempotencyKey),
    { timeoutMs: 30_000, what: "the answered batch's outcome record" },
  );
  expect(await world.fullyCommitted()).toBe(false);

  await killGroup(first.child, 'SIGKILL');
  expect(first.child.signalCode).toBe('SIGKILL');
  expect(await world.fullyCommitted()).toBe(false);
  sim.cognigy.clearFaults();

  const second = spawnAggregator(env);
  await world.waitCommitted(90_000);

  // Only the unanswered batch is sent again, with its key, and Cognigy answers 409; the answered
  // one is known as accepted from its outcome record and not sent again.
  const calls = world.calls();
  expect(calls.map((c) => [c.applied, c.status]).sort()).toEqual([
    [false, 409],
    [true, 0],
    [true, 200],
  ]);
  expect(calls[2]!.idempotencyKey).toBe(unanswered.idempotencyKey);
  expect(calls[2]!.webhookIds).toEqual(unanswered.webhookIds);
  expect(results.every((r) => sim.cognigy.acknowledged.get(r.eventId) === 1)).toBe(true);
  expect(sim.cognigy.acknowledged.size).toBe(40);
  await waitFor(() => second.lines.find((l) => l.audit === 'ack-batch'), { what: 'the audit line of the resent batch' });
  expect(second.lines.find((l) => l.audit === 'ack-batch')).toMatchObject({ httpStatus: 409, idempotencyKey: unanswered.idempotencyKey });

  // A later result goes out as a new batch, under a new key.
  const later = world.results(3);
  await world.produce(later);
  await world.waitAcknowledged(later.map((r) => r.eventId));
  await world.waitCommitted();
  expect(world.calls()).toHaveLength(4);
  expect(new Set(world.calls().map((c) => c.idempotencyKey)).size).toBe(3);

  await killGroup(second.child, 'SIGTERM');
  await waitFor(() => second.lines.some((l) => l.msg === 'stopped'), { timeoutMs: 30_000, what: 'a graceful stop on SIGTERM' });
}, 180_000);
