/**
 * `npm run bench -- kafkajs-cpu`: process CPU of kafkajs releases, idle and under load.
 *
 * kafkajs 2.2.4 changed `RequestQueue.scheduleCheckPendingRequests` so that it arms a timer even when
 * nothing is pending, with a negative (so ~1 ms) delay, and the timer callback re-arms it: every broker
 * connection that has seen a response spins a timer loop for as long as it is open. This benchmark
 * measures what that costs against the previous release, each measurement in a fresh process:
 *
 *   idle:   idempotent producer connected, consumer group joined on an empty topic, then a fixed idle
 *           window: CPU time per second of wall time and event-loop utilisation.
 *   loaded: a fixed number of small records produced in batches with acks=-1 through the idempotent
 *           producer while the consumer in the same process reads them all: wall time, records/s and
 *           CPU time per 1,000 records.
 *
 * Every release runs every measurement ROUNDS times, interleaved (A B A B), and the table shows the
 * median. Process CPU time is the comparable number on a machine shared with other work; wall time
 * and records/s move with whatever else runs there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createKafka, ensureTopics } from '../shared/kafka.js';
import { describeMachine } from './machine.js';
import type { WorkerResult } from './kafkajs-cpu-worker.js';

/** Aliased dev dependencies (`kafkajs-<version>@npm:kafkajs@<version>`), run in this order each round. */
const RELEASES = ['kafkajs-2.2.3', 'kafkajs-2.2.4'];
const ROUNDS = 2;
const IDLE_MS = 15_000;
const MESSAGES = 50_000;
const BATCH_SIZE = 100;
const VALUE_BYTES = 200;
const PARTITIONS = 6;
const CHILD_TIMEOUT_MS = 150_000;
const WORKER = fileURLToPath(new URL('./kafkajs-cpu-worker.ts', import.meta.url));

const running = new Set<ChildProcess>();

function runWorker(args: string[]): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    running.add(child);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const last = stdout.trim().split('\n').pop();
      if (code === 0 && last) return resolve(JSON.parse(last) as WorkerResult);
      reject(new Error(`worker ${args.slice(0, 2).join(' ')} ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

async function brokersForRun(): Promise<{ brokers: string; stop(): Promise<void> }> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { brokers: fromEnv, stop: async () => {} };
  const { startLocalInfra } = await import('../tools/infra/launcher.js');
  const infra = await startLocalInfra({ log: (line) => process.stderr.write(`${line}\n`) });
  return { brokers: infra.kafkaBrokers, stop: infra.stop };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const cpuMs = (r: WorkerResult) => r.cpuUserMs + r.cpuSystemMs;
/** CPU milliseconds per second of wall time (1000 = one core fully busy). */
const idleCpuPerSecond = (r: WorkerResult) => (cpuMs(r) / r.wallMs) * 1_000;
const cpuPerThousand = (r: WorkerResult) => (cpuMs(r) / r.messages) * 1_000;
const perSecond = (r: WorkerResult) => r.messages / (r.wallMs / 1_000);

interface Summary {
  label: string;
  idle: number[];
  idleElu: number[];
  loadedCpu: number[];
  loadedWallS: number[];
  loadedRate: number[];
  loadedElu: number[];
}

function summarise(label: string, idle: WorkerResult[], loaded: WorkerResult[]): Summary {
  return {
    label,
    idle: idle.map(idleCpuPerSecond),
    idleElu: idle.map((r) => r.elu),
    loadedCpu: loaded.map(cpuPerThousand),
    loadedWallS: loaded.map((r) => r.wallMs / 1_000),
    loadedRate: loaded.map(perSecond),
    loadedElu: loaded.map((r) => r.elu),
  };
}

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const runs = (values: number[], digits = 1) => values.map((v) => fmt(v, digits)).join(' / ');
const pct = (value: number) => `${fmt(value * 100)} %`;

function table(summaries: Summary[]): string[] {
  return [
    '| release | idle CPU ms/s (median; runs) | idle ELU | loaded wall s | loaded msg/s | loaded CPU ms per 1k msgs (median; runs) | loaded ELU |',
    '|---|---|---|---|---|---|---|',
    ...summaries.map(
      (s) =>
        `| ${s.label} | ${fmt(median(s.idle), 2)} (${runs(s.idle, 2)}) | ${pct(median(s.idleElu))} | ${fmt(median(s.loadedWallS))} | ` +
        `${fmt(median(s.loadedRate), 0)} | ${fmt(median(s.loadedCpu))} (${runs(s.loadedCpu)}) | ${pct(median(s.loadedElu))} |`,
    ),
  ];
}

/** Which release uses less of `metric`, by what factor, and whether the runs overlap (then it is noise). */
function compare(summaries: Summary[], metric: (s: Summary) => number[], unit: string): string {
  const ranked = [...summaries].sort((a, b) => median(metric(a)) - median(metric(b)));
  const best = ranked[0]!;
  const worst = ranked[ranked.length - 1]!;
  const factor = median(metric(worst)) / median(metric(best));
  const overlap = Math.max(...metric(best)) >= Math.min(...metric(worst));
  const numbers = `${fmt(median(metric(best)), 2)} vs ${fmt(median(metric(worst)), 2)} ${unit}`;
  return overlap
    ? `no clear winner (${best.label} ${numbers}, ${fmt(factor, 2)}x, runs overlap)`
    : `${best.label} uses ${fmt(factor, 2)}x less CPU than ${worst.label} (${numbers})`;
}

export async function run(): Promise<void> {
  const infra = await brokersForRun();
  const brokers = infra.brokers.split(',').map((b) => b.trim());
  const prefix = `bench.kafkajs-cpu.${randomBytes(4).toString('hex')}`;
  const idleTopic = `${prefix}.idle`;
  const loadedTopic = (release: string, round: number) => `${prefix}.loaded.${release}.${round}`;
  const topics = [idleTopic, ...RELEASES.flatMap((r) => Array.from({ length: ROUNDS }, (_, i) => loadedTopic(r, i)))];
  const admin = createKafka({ brokers, clientId: 'bench-kafkajs-cpu-admin' }).admin();
  const results = new Map(RELEASES.map((r) => [r, { idle: [] as WorkerResult[], loaded: [] as WorkerResult[] }]));
  const loadBefore = os.loadavg();
  const started = Date.now();
  await admin.connect();
  try {
    const replicationFactor = Number(process.env.TOPIC_REPLICATION_FACTOR ?? 1);
    await ensureTopics(admin, topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor })));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const release of RELEASES) {
        process.stderr.write(`kafkajs-cpu: round ${round + 1}/${ROUNDS} ${release} idle\n`);
        results.get(release)!.idle.push(await runWorker([release, 'idle', infra.brokers, idleTopic, String(IDLE_MS)]));
      }
      for (const release of RELEASES) {
        process.stderr.write(`kafkajs-cpu: round ${round + 1}/${ROUNDS} ${release} loaded\n`);
        const args = [release, 'loaded', infra.brokers, loadedTopic(release, round), String(MESSAGES), String(BATCH_SIZE), String(VALUE_BYTES)];
        results.get(release)!.loaded.push(await runWorker(args));
      }
    }
  } finally {
    for (const child of running) child.kill('SIGKILL');
    await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
    await infra.stop();
  }

  const summaries = RELEASES.map((release) => {
    const { idle, loaded } = results.get(release)!;
    return summarise(`kafkajs ${idle[0]?.version ?? release}`, idle, loaded);
  });
  const loadAfter = os.loadavg();
  console.log(`\nkafkajs CPU benchmark on ${describeMachine()}`);
  console.log(
    `Kafka broker ${infra.brokers} on the same machine; 1-min load average ${fmt(loadBefore[0]!, 2)} before, ${fmt(loadAfter[0]!, 2)} after; ` +
      `${((Date.now() - started) / 1_000).toFixed(0)} s in all.`,
  );
  console.log(
    `Each measurement in a fresh process, ${ROUNDS} rounds interleaved, medians shown. idle: producer (idempotent) + consumer group ` +
      `on an empty ${PARTITIONS}-partition topic, ${IDLE_MS / 1_000} s after the group join. loaded: ${MESSAGES.toLocaleString('en')} records of ` +
      `${VALUE_BYTES} bytes, batches of ${BATCH_SIZE}, acks=-1, produced and consumed in the same process.`,
  );
  console.log(
    'The machine is shared with other work, so process CPU time (per second idle, per 1,000 records loaded) is the comparable ' +
      'number; wall time and msg/s depend on what else ran at the same time.\n',
  );
  for (const line of table(summaries)) console.log(line);
  console.log(
    `\nverdict: idle: ${compare(summaries, (s) => s.idle, 'CPU ms/s')}; ` +
      `loaded: ${compare(summaries, (s) => s.loadedCpu, 'CPU ms per 1k msgs')}.`,
  );
}
