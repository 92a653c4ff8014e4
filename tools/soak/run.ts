/**
 * One soak run: build, broker, processes, load at a fixed rate with the faults (at the midpoint,
 * and the churn throughout), samples every 5 s, drain, census, invariant, report. Decisions live in
 * the pure modules (invariant.ts, drain.ts, samples.ts, faults.ts, report.ts), the fault steps in
 * fault-runner.ts; this module only sequences them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describeMachine } from '../../bench/machine.js';
import { onStopSignal } from '../../shared/lifecycle.js';
import { repoRoot } from '../infra/cache.js';
import { startLocalInfra, type LocalInfra } from '../infra/launcher.js';
import { run } from '../infra/process.js';
import type { SoakOptions } from './args.js';
import { renderChart, type Marker, type Span } from './chart.js';
import { deleteRunTopics, judgeRun } from './census.js';
import { waitForDrain } from './drain.js';
import { FaultRunner } from './fault-runner.js';
import { describeFaults, disruptsAtMidpoint, sparePorts } from './faults.js';
import { Fleet } from './fleet.js';
import { ATTEMPT_OUTCOMES, LoadGenerator, type AttemptOutcome } from './load.js';
import { judge, MEMORY_CHECK_MIN_S, percentiles, reportMarkdown, summaryLines, type SoakReport } from './report.js';
import { Sampler } from './sampler.js';
import { chartOf, memoryTrend, samplesCsv, worstConsumerLag, worstLoopLag, type Sample } from './samples.js';

const SAMPLE_INTERVAL_MS = 5_000;
const DRAIN_TIMEOUT_MS = 5 * 60_000;
const PROGRESS_EVERY_MS = 30_000;
const WEBHOOK_SECRET = 'soak-webhook-secret';

export type Log = (line: string) => void;

/** Runs the soak and returns the process exit code: 0 when it passed, 1 when it did not. */
export async function runSoak(options: SoakOptions, command: string, log: Log): Promise<number> {
  const wallStart = Date.now();
  const root = repoRoot();
  const outDir = resolve(process.cwd(), options.out);
  const build = options.skipBuild ? 'skipped (--skip-build)' : await buildDist(root, log);
  const infra = await startLocalInfra({ log });
  const runId = `soak-${Date.now().toString(36)}`;
  const topicPrefix = `${runId}.`;
  let fleet: Fleet | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= (async () => {
    await fleet?.stop();
    await infra.stop();
  })());
  onStopSignal(() => {
    log('stop signal: stopping the processes and the infrastructure');
    void stopAll().finally(() => process.exit(130));
  });
  let code = 1;
  try {
    log(`run ${runId}: starting the simulator and ${options.replicas} replica(s) of ingress, fulfillment and ack-aggregator`);
    fleet = await Fleet.create({
      root,
      logDir: join(outDir, 'logs'),
      kafkaBrokers: infra.kafkaBrokers,
      schemaRegistryUrl: infra.schemaRegistryUrl,
      topicPrefix,
      runId,
      replicas: options.replicas,
      exactlyOnce: options.exactlyOnce,
      webhookSecret: WEBHOOK_SECRET,
      sparePorts: sparePorts(options, options.minutes * 60_000),
    });
    await fleet.startAll();
    code = await drive(fleet, infra, { options, command, runId, topicPrefix, outDir, wallStart, build, log });
    return code;
  } finally {
    await fleet?.stop();
    // A broker of its own goes away with the run; on a shared one a passed run's topics would only pile up.
    if (infra.runtime === 'external' && code === 0) {
      await deleteRunTopics(infra.kafkaBrokers, topicPrefix).then(
        (deleted) => log(`deleted the run's ${deleted.length} topics (${topicPrefix}*)`),
        (error: unknown) => log(`could not delete the run's topics (${topicPrefix}*): ${(error as Error).message}`),
      );
    } else if (infra.runtime === 'external') {
      log(`kept the run's topics for inspection: TOPIC_PREFIX=${topicPrefix} npm run cli -- dlq list`);
    }
    await stopAll();
  }
}

interface DriveContext {
  options: SoakOptions;
  command: string;
  runId: string;
  topicPrefix: string;
  outDir: string;
  wallStart: number;
  build: string;
  log: Log;
}

/**
 * `npm run build`. tsc writes dist/ even when it reports type errors (a working tree in the middle
 * of a change): the run goes on with what was emitted, and the report says so.
 */
async function buildDist(root: string, log: Log): Promise<string> {
  log('building: npm run build');
  try {
    await run('npm', ['run', 'build'], root);
    return 'ok';
  } catch (error) {
    const errors = (error as Error).message
      .split('\n')
      .filter((line) => line.includes('error TS'))
      .map((line) => line.trim().replace(/\.$/, ''));
    if (errors.length === 0) throw error;
    log(`warning: the build reported ${errors.length} type error(s); running the JavaScript it emitted. First: ${errors[0]}`);
    return `type errors (${errors.length}), first: ${errors[0]}`;
  }
}

async function drive(fleet: Fleet, infra: LocalInfra, ctx: DriveContext): Promise<number> {
  const { options, log } = ctx;
  const durationMs = options.minutes * 60_000;
  let phase = 'steady';
  const load = new LoadGenerator({
    runId: ctx.runId,
    secret: WEBHOOK_SECRET,
    rate: options.rate,
    durationMs,
    duplicates: options.duplicates,
    targets: () => fleet.ready('ingress').map((p) => ({ id: p.id, port: p.port })),
    phase: () => phase,
  });
  const startedAt = Date.now();
  const sampler = new Sampler(fleet, load, startedAt, SAMPLE_INTERVAL_MS);
  const seconds = () => (Date.now() - startedAt) / 1_000;
  const faults = new FaultRunner(fleet, seconds, log);
  let disrupted: Promise<void> = Promise.resolve();
  const midpoint = !disruptsAtMidpoint(options) ? undefined : setTimeout(() => {
    phase = 'disruption';
    disrupted = faults.midpoint(options).then(() => {
      phase = 'recovery';
    });
  }, durationMs / 2);
  const churned = options.churnS === null ? Promise.resolve() : faults.churn(options.churnS, durationMs, startedAt);
  const progress = setInterval(() => log(progressLine(sampler.samples.at(-1))), PROGRESS_EVERY_MS);

  log(`sending ${options.rate}/s for ${options.minutes} min to ${fleet.ready('ingress').length} ingress instance(s)`);
  sampler.start();
  try {
    await load.run();
  } finally {
    clearTimeout(midpoint);
  }
  const loadSeconds = seconds();
  await Promise.all([disrupted, churned]);
  sampler.draining();
  log(`load done after ${loadSeconds.toFixed(0)} s (${load.accepted.size} accepted); waiting for the pipeline to drain`);
  const drain = await waitForDrain(() => sampler.samples, DRAIN_TIMEOUT_MS);
  clearInterval(progress);
  await sampler.stop();
  log(`drain: ${drain.reason}; reading the results and dead-letter topics`);

  const { census, verdict } = await judgeRun(
    { kafkaBrokers: infra.kafkaBrokers, schemaRegistryUrl: infra.schemaRegistryUrl, topicPrefix: ctx.topicPrefix, simulatorUrl: fleet.simulatorUrl },
    load,
  );
  const memoryRows = memoryTrend(sampler.samples, loadSeconds);
  const required = loadSeconds >= MEMORY_CHECK_MIN_S;
  const body: Omit<SoakReport, 'passed' | 'failures'> = {
    command: ctx.command,
    options,
    run: {
      runId: ctx.runId,
      topicPrefix: ctx.topicPrefix,
      kafkaBrokers: infra.kafkaBrokers,
      schemaRegistryUrl: infra.schemaRegistryUrl,
      machine: describeMachine(),
      build: ctx.build,
      startedAt: new Date(startedAt).toISOString(),
      loadSeconds,
      drain: { drained: drain.drained, reason: drain.reason, seconds: drain.afterMs / 1_000 },
      wallSeconds: (Date.now() - ctx.wallStart) / 1_000,
    },
    verdict,
    client: {
      callbacks: load.sent,
      redeliveries: load.redeliveries,
      redeliveriesSameInstance: load.redeliveriesSameInstance,
      attempts: load.attempts(),
      accepted: load.accepted.size,
      offeredRate: options.rate,
      achievedRate: load.accepted.size / (durationMs / 1_000),
      latencyMs: percentiles(load.latenciesMs),
      byPhase: Object.fromEntries(
        [...load.outcomes].map(([name, byOutcome]) => [name, Object.fromEntries(ATTEMPT_OUTCOMES.map((o) => [o, byOutcome.get(o) ?? 0])) as Record<AttemptOutcome, number>]),
      ),
    },
    disruptions: faults.disruptions,
    restarts: faults.restarts,
    events: faults.events,
    pipeline: {
      routes: census.routes,
      resultAckStatuses: census.resultAckStatuses,
      dlqReasons: census.dlqReasons,
      acknowledgedStatuses: census.acknowledgedStatuses,
      batchCallStatuses: census.batchCallStatuses,
    },
    memory: { required, flat: memoryRows.every((r) => r.flat === true) ? true : memoryRows.some((r) => r.flat === false) ? false : null, rows: memoryRows },
    eventLoopLagMs: worstLoopLag(sampler.samples),
    maxConsumerLag: worstConsumerLag(sampler.samples),
  };
  const report: SoakReport = { ...judge(body), ...body };
  await writeReport(ctx.outDir, report, sampler.samples, [...faults.instants, { x: loadSeconds / 60, label: 'load ends' }], faults.periods);
  for (const line of summaryLines(report)) log(line);
  log(`report: ${join(ctx.outDir, 'report.md')}`);
  return report.passed ? 0 : 1;
}

async function writeReport(outDir: string, report: SoakReport, samples: readonly Sample[], markers: readonly Marker[], spans: readonly Span[]): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const o = report.options;
  const chart = chartOf(samples, {
    title: `Soak ${report.run.runId}: ${report.passed ? 'PASSED' : 'FAILED'}`,
    subtitle:
      `${o.rate}/s for ${o.minutes} min, ${o.replicas} replica(s) per service, duplicates ${o.duplicates}, ` +
      `faults: ${describeFaults(o)}, exactly-once ${o.exactlyOnce}; sampled every ${SAMPLE_INTERVAL_MS / 1_000} s`,
    markers,
    spans,
  });
  await Promise.all([
    writeFile(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`),
    writeFile(join(outDir, 'report.md'), reportMarkdown(report)),
    writeFile(join(outDir, 'samples.json'), `${JSON.stringify(samples)}\n`),
    writeFile(join(outDir, 'samples.csv'), samplesCsv(samples)),
    writeFile(join(outDir, 'chart.svg'), renderChart(chart)),
  ]);
}

function progressLine(sample: Sample | undefined): string {
  if (sample === undefined) return 'no sample yet';
  const lag = Object.entries(sample.consumerLag).map(([group, n]) => `${group} ${n ?? '?'}`).join(', ');
  const t = sample.totals;
  return `t=${sample.elapsedS.toFixed(0)} s: accepted ${t.accepted}, results ${t.results}, acknowledged ${t.acknowledged}; consumer lag ${lag}`;
}
