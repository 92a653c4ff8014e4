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

/** Runs `services/fulfillment/main.ts` in its own node process and waits until it joined its group. */
async function spawnService(env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/fulfillment/main.ts'], {
    env: { ...process.env, ...env, FULFILLMENT_PORT: '0', FULFILLMENT_HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
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
  return { child, exited, stderr };
}

/**
 * 1,000 callbacks; the service process is SIGKILLed once some results are out, and a new one
 * finishes the stream. Returns what a checker needs.
 */
export async function crashMidStream(exactlyOnce: boolean): Promise<{
  h: Harness;
  eventIds: string[];
  resultsAtKill: number;
  committedAtKill: Map<number, bigint>;
  inputOffset: Map<string, { partition: number; offset: bigint }>;
  countsByEvent: Map<string, number>;
  secondExitCode: number | null;
}> {
  const h = await startHarness({ TOPIC_PARTITIONS: '3', EXACTLY_ONCE: String(exactlyOnce) }, { startService: false });
  try {
    h.simulator.downstream.setFaults({ latencyMs: 10, latencyJitterMs: 40 });
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
    };
    const first = await spawnService(env);
    const callbacks = Array.from({ length: 1_000 }, (_, i) => makeCallback({ sessionId: `crash-${i % 100}` }));
    for (let i = 0; i < callbacks.length; i += 100) await h.send(callbacks.slice(i, i + 100));

    await waitFor(async () => (await h.results()).length >= 200, { timeoutMs: 60_000, what: '200 results before the kill' });
    first.child.kill('SIGKILL');
    await first.exited;
    const resultsAtKill = (await h.results()).length;

    const kafka = createKafka({ brokers: h.config.KAFKA_BROKERS, clientId: 'crash-test' });
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: h.config.FULFILLMENT_GROUP_ID, topics: [h.topics.callbacks] });
      return new Map((offsets?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    };
    const committedAtKill = await committed();

    const second = await spawnService(env);
    const eventIds = callbacks.map((c) => c.eventId);
    await h.waitForResults(eventIds, 120_000);
    // Every input offset committed: anything the second process would write twice is written by now.
    const ends = await admin.fetchTopicOffsets(h.topics.callbacks);
    await waitFor(
      async () => {
        const now = await committed();
        return ends.every((end) => now.get(end.partition) === BigInt(end.high));
      },
      { timeoutMs: 60_000, what: 'all input offsets committed' },
    );
    second.child.kill('SIGTERM');
    const secondExitCode = await second.exited;
    await admin.disconnect();

    const input = await startTopicReader(h.config.KAFKA_BROKERS.join(','), [h.topics.callbacks]);
    await waitFor(() => input.records.length >= callbacks.length, { what: 'the input records' });
    await input.stop();
    const inputOffset = new Map(
      input.records.map((r) => [r.headers[Header.eventId]!, { partition: r.partition, offset: BigInt(r.offset) }]),
    );
    const countsByEvent = new Map<string, number>();
    for (const { result } of await h.results()) countsByEvent.set(result.eventId, (countsByEvent.get(result.eventId) ?? 0) + 1);
    expect(resultsAtKill).toBeLessThan(callbacks.length);
    return { h, eventIds, resultsAtKill, committedAtKill, inputOffset, countsByEvent, secondExitCode };
  } catch (error) {
    await h.stop();
    throw error;
  }
}
