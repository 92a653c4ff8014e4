/** The soak's report: what report.json holds, report.md and the lines printed at the end. Pure. */
import { ATTEMPT_OUTCOMES, type AttemptOutcome } from './load.js';
import type { SoakOptions } from './args.js';
import { describeFaults } from './faults.js';
import type { Verdict } from './invariant.js';
import type { MemoryRow } from './samples.js';

/** Memory must stay flat only on runs long enough to have a second and a distinct last minute. */
export const MEMORY_CHECK_MIN_S = 180;

export interface Disruption {
  service: string;
  killed: string;
  killedAtS: number;
  replacement?: string;
  replacementReadyAtS?: number;
  error?: string;
}

/** A replica stopped with SIGTERM (a rolling restart, or a churning replica leaving), and its replacement if any. */
export interface Restart {
  service: string;
  stopped: string;
  signalAtS: number;
  exitedAtS?: number;
  /** How it ended: `exit code 0` for a clean stop; `exit code 1` when its own shutdown timed out; SIGKILL past the soak's grace. */
  exit?: string;
  replacement?: string;
  replacementReadyAtS?: number;
  error?: string;
}

/** A step of a fault, seconds since the load started: marked on the chart. */
export interface FaultEvent {
  atS: number;
  label: string;
}

export interface SoakReport {
  passed: boolean;
  /** Why the run failed, one line each; empty when it passed. */
  failures: string[];
  command: string;
  options: SoakOptions;
  run: {
    runId: string;
    topicPrefix: string;
    kafkaBrokers: string;
    schemaRegistryUrl: string;
    machine: string;
    /** How dist/ was built: ok, skipped, or the type errors tsc reported while emitting it. */
    build: string;
    startedAt: string;
    loadSeconds: number;
    drain: { drained: boolean; reason: string; seconds: number };
    wallSeconds: number;
  };
  verdict: Verdict;
  client: {
    callbacks: number;
    redeliveries: number;
    redeliveriesSameInstance: number;
    attempts: number;
    accepted: number;
    offeredRate: number;
    achievedRate: number;
    latencyMs: { p50: number | null; p99: number | null; max: number | null };
    byPhase: Record<string, Record<AttemptOutcome, number>>;
  };
  disruptions: Disruption[];
  restarts: Restart[];
  /** Every fault step in order (kills, outages, storms, restarts, churn). */
  events: FaultEvent[];
  pipeline: {
    routes: Record<string, number>;
    resultAckStatuses: Record<string, number>;
    dlqReasons: Record<string, number>;
    acknowledgedStatuses: Record<string, number>;
    /** Cognigy's answers to batch-acknowledge calls, by HTTP status. */
    batchCallStatuses: Record<string, number>;
  };
  memory: { required: boolean; flat: boolean | null; rows: MemoryRow[] };
  eventLoopLagMs: Record<string, { p99Ms: number | null; maxMs: number | null }>;
  maxConsumerLag: Record<string, number | null>;
}

/** Passed: the invariant holds, and memory stayed flat when the run was long enough to tell. */
export function judge(report: Omit<SoakReport, 'passed' | 'failures'>): { passed: boolean; failures: string[] } {
  const failures = report.verdict.checks.filter((c) => !c.holds).map((c) => `${c.name}: ${c.detail}`);
  if (report.memory.required && report.memory.flat !== true) {
    const grew = report.memory.rows.filter((r) => r.flat !== true).map((r) => `${r.service} ${formatPct(r.changePct)}`);
    failures.push(`memory not flat (last minute against minute 2, ±10 %): ${grew.join(', ')}`);
  }
  return { passed: failures.length === 0, failures };
}

export function percentiles(values: readonly number[]): { p50: number | null; p99: number | null; max: number | null } {
  if (values.length === 0) return { p50: null, p99: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number) * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** The invariant as one equation with this run's numbers. */
export function equation(v: Verdict): string {
  const c = v.counts;
  const unanswered = c.processedWithoutAnswer > 0 ? ` (+ ${c.processedWithoutAnswer} processed without an answer)` : '';
  return (
    `accepted ${c.accepted}${unanswered} = results ${c.results} (${c.resultRecords} records) = ` +
    `acknowledged ${c.acknowledged} + definitively dead-lettered ${c.definitivelyDeadLettered}`
  );
}

/** The lines printed when the run ends. */
export function summaryLines(r: SoakReport): string[] {
  const c = r.verdict.counts;
  const lines = [
    `soak ${r.passed ? 'PASSED' : 'FAILED'}: ${r.command}`,
    equation(r.verdict),
    ...r.verdict.checks.map((check) => `  ${check.holds ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}`),
    `lost ${c.lost}; acknowledged twice ${c.duplicateAcknowledged} (${c.surplusAcknowledgements} surplus); two results ${c.duplicateResults} (${c.surplusResults} surplus)`,
    `sent ${r.client.callbacks} callbacks + ${r.client.redeliveries} redeliveries, ${r.client.callbacks - r.client.accepted} callbacks never accepted (no 2xx for any copy); achieved ${r.client.achievedRate.toFixed(1)}/s of ${r.client.offeredRate}/s; latency p50 ${r.client.latencyMs.p50} ms, p99 ${r.client.latencyMs.p99} ms`,
    ...Object.entries(r.client.byPhase).map(([phase, o]) => `  ${phase}: ${ATTEMPT_OUTCOMES.map((k) => `${k} ${o[k]}`).join(', ')}`),
    ...r.disruptions.map(
      (d) =>
        `  killed ${d.killed} at ${d.killedAtS.toFixed(1)} s; ${d.replacement ? `${d.replacement} ready at ${d.replacementReadyAtS?.toFixed(1)} s` : `no replacement (${d.error ?? 'not started'})`}`,
    ),
    ...r.restarts.map((x) => `  ${restartLine(x)}`),
    ...(r.events.length > 0 ? [`faults: ${r.events.map((e) => `${e.atS.toFixed(1)} s ${e.label}`).join('; ')}`] : []),
    `results by route: ${record(r.pipeline.routes)}; dead letters by reason: ${record(r.pipeline.dlqReasons)}; Cognigy's answers to batch calls (status, calls): ${record(r.pipeline.batchCallStatuses)}`,
    ...uncleanStops(r.restarts).map((line) => `warning: ${line}`),
    `memory (MiB, minute 2 -> last minute): ${r.memory.rows.map((m) => `${m.service} ${mib(m.minute2MiB)} -> ${mib(m.lastMinuteMiB)} (${formatPct(m.changePct)})`).join('; ')}${r.memory.required ? '' : ' [not judged: run shorter than 3 minutes]'}`,
    `max event-loop lag p99 (ms): ${Object.entries(r.eventLoopLagMs).map(([s, l]) => `${s} ${num(l.p99Ms)}`).join(', ')}; max consumer lag: ${Object.entries(r.maxConsumerLag).map(([g, l]) => `${g} ${l ?? 'n/a'}`).join(', ')}`,
    `drain: ${r.run.drain.drained ? 'drained' : 'NOT drained'} after ${r.run.drain.seconds.toFixed(0)} s (${r.run.drain.reason}); wall time ${r.run.wallSeconds.toFixed(0)} s`,
  ];
  for (const failure of r.failures) lines.push(`failure: ${failure}`);
  return lines;
}

export function reportMarkdown(r: SoakReport): string {
  const c = r.verdict.counts;
  const phases = Object.keys(r.client.byPhase);
  const lines = [
    `# Soak report: ${r.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `\`${r.command}\``,
    '',
    `Run ${r.run.runId} started ${r.run.startedAt} on ${r.run.machine}; Kafka ${r.run.kafkaBrokers}, registry ${r.run.schemaRegistryUrl}, topic prefix \`${r.run.topicPrefix}\`; build: ${r.run.build}.`,
    `${r.options.replicas} replica(s) per service, duplicates ${r.options.duplicates}, faults: ${describeFaults(r.options)}, exactly-once ${r.options.exactlyOnce}.`,
    `Load ${r.run.loadSeconds.toFixed(0)} s; drain ${r.run.drain.drained ? 'complete' : 'INCOMPLETE'} after ${r.run.drain.seconds.toFixed(0)} s (${r.run.drain.reason}); wall time ${r.run.wallSeconds.toFixed(0)} s.`,
    '',
    '## Invariant',
    '',
    equation(r.verdict),
    '',
    '| check | holds | detail |',
    '|---|---|---|',
    ...r.verdict.checks.map((check) => `| ${check.name} | ${check.holds ? 'yes' : '**no**'} | ${check.detail} |`),
    ...(r.failures.length > 0 ? ['', ...r.failures.map((f) => `- failure: ${f}`)] : []),
    '',
    '| count | value |',
    '|---|---|',
    ...Object.entries(c).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...examples(r.verdict.examples),
    '## Load',
    '',
    `${r.client.callbacks} callbacks and ${r.client.redeliveries} redeliveries (${r.client.redeliveriesSameInstance} to the same instance, none other being live) in ${r.client.attempts} requests; ` +
      `${r.client.callbacks - r.client.accepted} callbacks never accepted (no 2xx for any copy: not counted as accepted, so not as lost either); ` +
      `achieved ${r.client.achievedRate.toFixed(1)} accepted/s of ${r.client.offeredRate}/s offered; latency of accepted requests p50 ${r.client.latencyMs.p50} ms, p99 ${r.client.latencyMs.p99} ms, max ${r.client.latencyMs.max} ms.`,
    '',
    'Requests by outcome and by the phase they were sent in (steady: before the midpoint; disruption: from the midpoint until its faults were over and the replacements ready; recovery: after):',
    '',
    `| outcome | ${phases.join(' | ')} |`,
    `|---|${phases.map(() => '---').join('|')}|`,
    ...ATTEMPT_OUTCOMES.map((o) => `| ${o} | ${phases.map((p) => r.client.byPhase[p]?.[o] ?? 0).join(' | ')} |`),
    '',
    ...(r.disruptions.length > 0
      ? [
          '| killed | at s | replacement | ready at s |',
          '|---|---|---|---|',
          ...r.disruptions.map((d) => `| ${d.killed} | ${d.killedAtS.toFixed(1)} | ${d.replacement ?? d.error ?? '-'} | ${d.replacementReadyAtS?.toFixed(1) ?? '-'} |`),
          '',
        ]
      : []),
    ...(r.restarts.length > 0
      ? [
          '| stopped (SIGTERM) | at s | exited at s | exit | replacement | ready at s |',
          '|---|---|---|---|---|---|',
          ...r.restarts.map(
            (x) =>
              `| ${x.stopped} | ${x.signalAtS.toFixed(1)} | ${x.exitedAtS?.toFixed(1) ?? '-'} | ${x.exit === 'exit code 0' ? x.exit : `**${x.exit ?? 'not exited'}**`} | ${x.replacement ?? x.error ?? '-'} | ${x.replacementReadyAtS?.toFixed(1) ?? '-'} |`,
          ),
          '',
        ]
      : []),
    ...(r.events.length > 0 ? ['Fault steps (seconds since the load started), marked on the chart:', '', ...r.events.map((e) => `- ${e.atS.toFixed(1)} s: ${e.label}`), ''] : []),
    '## Pipeline',
    '',
    `Results by route: ${record(r.pipeline.routes)}; by ack status: ${record(r.pipeline.resultAckStatuses)}.`,
    `Acknowledged to Cognigy by status: ${record(r.pipeline.acknowledgedStatuses)}. Dead letters by reason: ${record(r.pipeline.dlqReasons)}.`,
    `Cognigy's answers to batch-acknowledge calls (status, calls): ${record(r.pipeline.batchCallStatuses)}.`,
    '',
    '## Resources',
    '',
    `Memory is ${r.memory.required ? 'judged' : 'not judged (the run is shorter than 3 minutes)'}: flat means the last minute's mean RSS is within 10 % of minute 2's, over the processes alive in both.`,
    '',
    '| service | RSS minute 2 (MiB) | RSS last minute (MiB) | change | flat | max event-loop lag p99 (ms) | max event-loop lag (ms) |',
    '|---|---|---|---|---|---|---|',
    ...r.memory.rows.map((m) => {
      const lag = r.eventLoopLagMs[m.service];
      return `| ${m.service} | ${mib(m.minute2MiB)} | ${mib(m.lastMinuteMiB)} | ${formatPct(m.changePct)} | ${m.flat === null ? 'n/a' : m.flat ? 'yes' : '**no**'} | ${num(lag?.p99Ms ?? null)} | ${num(lag?.maxMs ?? null)} |`;
    }),
    '',
    `Max consumer lag (records): ${Object.entries(r.maxConsumerLag).map(([g, l]) => `${g} ${l ?? 'n/a'}`).join(', ')}.`,
    '',
    '![RSS, event-loop lag, consumer lag and throughput over the run](chart.svg)',
    '',
    'Files: report.json (everything above), samples.csv and samples.json (every 5 s sample), chart.svg, logs/ (each process).',
    '',
  ];
  return lines.join('\n');
}

/** One line per SIGTERM: how long the stop took and how it ended. */
function restartLine(x: Restart): string {
  const took = x.exitedAtS === undefined ? 'not exited' : `${x.exit} after ${(x.exitedAtS - x.signalAtS).toFixed(1)} s`;
  const replaced = x.replacement ? `; ${x.replacement} ready at ${x.replacementReadyAtS?.toFixed(1)} s` : x.error ? `; no replacement (${x.error})` : '';
  return `SIGTERM ${x.stopped} at ${x.signalAtS.toFixed(1)} s: ${took}${replaced}`;
}

/** Stops that did not end cleanly: a service whose own shutdown timed out exits 1, one that hung past the soak's grace is killed. */
export function uncleanStops(restarts: readonly Restart[]): string[] {
  return restarts.filter((x) => x.exit !== 'exit code 0').map((x) => `${x.stopped} did not stop cleanly after SIGTERM (${x.exit ?? 'not exited'})`);
}

function examples(byKind: Record<string, string[]>): string[] {
  const shown = Object.entries(byKind).filter(([, ids]) => ids.length > 0);
  if (shown.length === 0) return [];
  return ['Examples (up to 10 event ids each):', '', ...shown.map(([kind, ids]) => `- ${kind}: ${ids.join(', ')}`), ''];
}

function record(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

function mib(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(1);
}

function num(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(1);
}

function formatPct(value: number | null): string {
  return value === null ? 'n/a' : `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;
}
