import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { expect } from 'vitest';
import { Header } from '../../shared/headers.js';
import { createKafka } from '../../shared/kafka.js';
import { startTopicReader } from '../support/topic-reader.js';
import { waitFor } from '../support/wait.js';
import { makeCallback, startHarness, type Harness } from './support.js';

interface ServiceProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: string[];
}

/**
 * Runs `services/fulfillment/main.ts` in its own node process, adds it to `processes` (so a failed
 * run can kill it) and waits until it joined its group.
 */
async function spawnService(env: Record<string, string>, processes: ServiceProcess[]): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/fulfillment/main.ts'], {
    env: { ...process.env, ...env, FULFILLMENT_PORT: '0', FULFILLMENT_HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service = { child, exited, stderr };
  processes.push(service);
  let url: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.includes('"fulfillment running"')) return;
    url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${stderr.join('')}`);
      return url !== undefined && (await fetch(`${url}/readyz`)).ok;
    },
    { timeoutMs: 90_000, intervalMs: 200, what: 'the service process to join its group' },
  );
  return service;
}

/** What a checker of a crash run reads. */
export interface CrashRun {
  h: Harness;
  eventIds: string[];
  /** Whether the callback lay below its partition's committed offset when the first process died. */
  committedAtKill(eventId: string): boolean;
  /** Callbacks with a result from the first process, as a read_committed reader sees them. */
  resultedBeforeRestart: Set<string>;
  /** Callbacks the first process called downstream. */
  calledBeforeRestart: Set<string>;
  /** At-least-once: callbacks whose dedup changelog entry the first process wrote (durable before the kill). */
  dedupEntryBeforeRestart: Set<string>;
  /** Results per callback once the second process committed everything. */
  resultCounts: Map<string, number>;
  /** Downstream calls per callback (Idempotency-Key), both processes together. */
  callCounts: Map<string, number>;
  secondExitCode: number | null;
}

/** Callbacks handled above the committed offset that the first process must leave behind when it dies. */
const UNCOMMITTED_AT_KILL = 20;

/**
 * 1,000 callbacks; the service process is SIGKILLed once it has committed some callbacks and
 * handled at least UNCOMMITTED_AT_KILL more above the committed offset. "Handled" is what a crash
 * makes the restart repeat: with at-least-once a written result, with exactly-once a downstream
 * call (its result waits for the partition's next transaction). A second process then finishes
 * the stream.
 */
export async function crashMidStream(exactlyOnce: boolean): Promise<CrashRun> {
  const h = await startHarness({ TOPIC_PARTITIONS: '3', EXACTLY_ONCE: String(exactlyOnce) }, { startService: false });
  const kafka = createKafka({ brokers: h.config.KAFKA_BROKERS, clientId: 'crash-test' });
  const admin = kafka.admin();
  const processes: ServiceProcess[] = [];
  let input: Awaited<ReturnType<typeof startTopicReader>> | undefined;
  try {
    const down = h.simulator.downstream;
    down.setFaults({ latencyMs: 10, latencyJitterMs: 40 });
    const env: Record<string, string> = {
      KAFKA_BROKERS: h.config.KAFKA_BROKERS.join(','),
      SCHEMA_REGISTRY_URL: h.config.SCHEMA_REGISTRY_URL,
      TOPIC_PREFIX: h.config.TOPIC_PREFIX,
      TOPIC_PARTITIONS: '3',
      FULFILLMENT_GROUP_ID: h.config.FULFILLMENT_GROUP_ID,
      DOWNSTREAM_URL: h.config.DOWNSTREAM_URL,
      EXACTLY_ONCE: String(exactlyOnce),
      FULFILLMENT_MAX_IN_FLIGHT: '8',
      FULFILLMENT_SESSION_TIMEOUT_MS: '8000',
      // A commit (or transaction) about once a second: between two of them the process handles
      // well over a hundred callbacks, so a kill soon after a commit leaves handled work above it.
      FULFILLMENT_COMMIT_INTERVAL_MS: '1000',
    };
    await admin.connect();
    const committedOffsets = async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: h.config.FULFILLMENT_GROUP_ID, topics: [h.topics.callbacks] });
      return new Map((offsets?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    };
    // Started before the stream, so it has joined its group by the time the callbacks are there.
    input = await startTopicReader(h.config.KAFKA_BROKERS.join(','), [h.topics.callbacks]);
    const first = await spawnService(env, processes);
    const callbacks = Array.from({ length: 1_000 }, (_, i) => makeCallback({ sessionId: `crash-${i % 100}` }));
    const eventIds = callbacks.map((c) => c.eventId);
    for (let i = 0; i < callbacks.length; i += 100) await h.send(callbacks.slice(i, i + 100));

    const inputRecords = input.records;
    await waitFor(() => inputRecords.length >= callbacks.length, { what: 'the input records' });
    await input.stop();
    const inputOffset = new Map(
      inputRecords.map((r) => [r.headers[Header.eventId]!, { partition: r.partition, offset: BigInt(r.offset) }]),
    );
    const below = (committed: Map<number, bigint>) => (eventId: string) => {
      const { partition, offset } = inputOffset.get(eventId)!;
      return offset < (committed.get(partition) ?? 0n);
    };
    const handled = async () =>
      exactlyOnce
        ? [...new Set(down.calls.map((call) => call.idempotencyKey!))]
        : [...new Set((await h.results()).map(({ result }) => result.eventId))];
    await waitFor(
      async () => {
        const isCommitted = below(await committedOffsets());
        const done = await handled();
        const committedCount = done.filter(isCommitted).length;
        return committedCount > 0 && done.length - committedCount >= UNCOMMITTED_AT_KILL;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: `${UNCOMMITTED_AT_KILL} handled callbacks above a committed offset` },
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const committedAtKill = await committedOffsets();
    // Whatever has a timestamp before this was written (or called) by the first process.
    const restartedAt = Date.now();

    const second = await spawnService(env, processes);
    await h.waitForResults(eventIds, 120_000);
    // Every input offset committed: anything the second process would write twice is written by now.
    const ends = await admin.fetchTopicOffsets(h.topics.callbacks);
    await waitFor(
      async () => {
        const now = await committedOffsets();
        return ends.every((end) => now.get(end.partition) === BigInt(end.high));
      },
      { timeoutMs: 60_000, what: 'all input offsets committed' },
    );
    second.child.kill('SIGTERM');
    const secondExitCode = await second.exited;

    const results = await h.results();
    const dedupEntryBeforeRestart = exactlyOnce ? new Set<string>() : await changelogKeysBefore(h, restartedAt);
    const resultedBeforeRestart = new Set(
      results.filter(({ record }) => Number(record.message.timestamp) < restartedAt).map(({ result }) => result.eventId),
    );
    expect(resultedBeforeRestart.size).toBeLessThan(callbacks.length);
    return {
      h,
      eventIds,
      committedAtKill: below(committedAtKill),
      resultedBeforeRestart,
      calledBeforeRestart: new Set(down.calls.filter((call) => call.at < restartedAt).map((call) => call.idempotencyKey!)),
      dedupEntryBeforeRestart,
      resultCounts: countBy(results.map(({ result }) => result.eventId)),
      callCounts: countBy(down.calls.map((call) => call.idempotencyKey!)),
      secondExitCode,
    };
  } catch (error) {
    for (const { child } of processes) child.kill('SIGKILL');
    await input?.stop();
    await h.stop();
    throw error;
  } finally {
    await admin.disconnect();
  }
}

/** The keys (event ids) of the dedup changelog records written before `before`; a log without transactions, every offset a record. */
async function changelogKeysBefore(h: Harness, before: number): Promise<Set<string>> {
  const reader = await startTopicReader(h.config.KAFKA_BROKERS.join(','), [h.topics.fulfillmentDedup]);
  try {
    const admin = createKafka({ brokers: h.config.KAFKA_BROKERS, clientId: 'crash-test-changelog' }).admin();
    await admin.connect();
    const end = (await admin.fetchTopicOffsets(h.topics.fulfillmentDedup)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    await admin.disconnect();
    await waitFor(() => reader.records.length >= end, { what: 'the dedup changelog read' });
    return new Set(reader.records.filter((r) => Number(r.message.timestamp) < before && r.key !== null).map((r) => r.key as string));
  } finally {
    await reader.stop();
  }
}

function countBy(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
