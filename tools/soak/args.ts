/**
 * `npm run soak -- ...` arguments: node:util parseArgs reads the flags, zod checks the values, and
 * a bad one comes back as one line naming the flag and what it expects. Pure.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const KILLABLE = ['ingress', 'fulfillment', 'ack-aggregator'] as const;
export type Killable = (typeof KILLABLE)[number];

export const USAGE = `usage: npm run soak -- --rate R --minutes M [options]

Drives signed callbacks at a fixed rate through ingress, fulfillment and ack-aggregator (each
replica its own process, built from dist/) and a simulator, then checks that every accepted
callback was acknowledged or dead-lettered exactly once.

  --rate R            callbacks per second (open loop), e.g. 100
  --minutes M         how long to send; fractions allowed, e.g. 0.5
  --replicas N        processes per service, 1 to 8 (default 1); requests go round-robin
  --duplicates F      share of callbacks sent a second time, byte-identical, to another ingress
                      0 to 2 s later, 0 to 1 (default 0)
  --kill SERVICE      SIGKILL one replica of ingress | fulfillment | ack-aggregator at the
                      midpoint and start a replacement 5 s later; repeatable
  --downstream-outage S
                      at the midpoint the downstream answers every call 503 for S seconds
  --cognigy-storm S   at the midpoint Cognigy's batch-acknowledge answers 429 (Retry-After 2 s)
                      for S/2 seconds, then 500 for S/2 seconds
  --rolling-restart   at the midpoint SIGTERM each replica of each service in turn (ingress,
                      fulfillment, ack-aggregator), its replacement ready before the next
  --churn S           an extra fulfillment and ack-aggregator replica joins, and leaves (SIGTERM)
                      S seconds later, every 2*S seconds while the load runs; S at least 5
  --exactly-once      EXACTLY_ONCE=true for fulfillment
  --out DIR           report folder (default soak-report, under the repository)
  --skip-build        run the existing dist/ instead of running npm run build first

Kafka and the registry: KAFKA_BROKERS and SCHEMA_REGISTRY_URL if set, else a local broker and
registry started (and stopped) for the run. Other service variables in the environment reach
every service process.
exit codes: 0 invariant holds (and memory flat on runs of 3 minutes or more), 1 it does not or
the run failed, 2 usage`;

export interface SoakOptions {
  rate: number;
  minutes: number;
  replicas: number;
  duplicates: number;
  kill: Killable[];
  /** Seconds the downstream is down from the midpoint; null: no outage. */
  downstreamOutageS: number | null;
  /** Seconds of 429s then 500s from Cognigy from the midpoint; null: no storm. */
  cognigyStormS: number | null;
  rollingRestart: boolean;
  /** An extra replica joins every 2*churnS seconds and leaves churnS later; null: none. */
  churnS: number | null;
  exactlyOnce: boolean;
  out: string;
  skipBuild: boolean;
}

export type ParsedArgs = { kind: 'run'; options: SoakOptions } | { kind: 'help' } | { kind: 'error'; message: string };

/** A flag's text as a number, refused with what was expected and what was given. */
const numberArg = (expected: string, fits: (n: number) => boolean) =>
  z.string({ error: 'is required' }).transform((text, ctx) => {
    const n = text.trim() === '' ? Number.NaN : Number(text);
    if (Number.isFinite(n) && fits(n)) return n;
    ctx.addIssue({ code: 'custom', message: `expected ${expected}, got "${text}"` });
    return z.NEVER;
  });

/** An optional number of seconds, as numberArg. */
const secondsArg = (fits: (n: number) => boolean, expected: string) => numberArg(expected, fits).optional();

/** Fewer seconds between a churning replica's join and leave than it takes to start and join its group. */
export const MIN_CHURN_S = 5;

const SoakArgs = z
  .object({
    rate: numberArg('callbacks per second, more than 0 and at most 10000', (n) => n > 0 && n <= 10_000),
    minutes: numberArg('minutes, more than 0 and at most 1440', (n) => n > 0 && n <= 1_440),
    replicas: numberArg('a whole number from 1 to 8', (n) => Number.isInteger(n) && n >= 1 && n <= 8),
    duplicates: numberArg('a share from 0 to 1', (n) => n >= 0 && n <= 1),
    kill: z.array(z.enum(KILLABLE, { error: (issue) => `expected one of ${KILLABLE.join(', ')}, got "${String(issue.input)}"` })),
    'downstream-outage': secondsArg((n) => n > 0 && n <= 3_600, 'seconds, more than 0 and at most 3600'),
    'cognigy-storm': secondsArg((n) => n > 0 && n <= 3_600, 'seconds, more than 0 and at most 3600'),
    'rolling-restart': z.boolean(),
    churn: secondsArg((n) => n >= MIN_CHURN_S && n <= 3_600, `seconds, at least ${MIN_CHURN_S} and at most 3600`),
    'exactly-once': z.boolean(),
    out: z.string().trim().min(1, 'expected a folder'),
    'skip-build': z.boolean(),
  })
  .superRefine((args, ctx) => {
    for (const service of KILLABLE) {
      const kills = args.kill.filter((k) => k === service).length;
      if (kills > args.replicas) {
        ctx.addIssue({ code: 'custom', path: ['kill'], message: `${kills} kills of ${service} but only ${args.replicas} replica(s)` });
      }
    }
    // A fault from the midpoint must be over before the load ends, or the drain waits on it.
    const halfS = (args.minutes * 60) / 2;
    for (const flag of ['downstream-outage', 'cognigy-storm'] as const) {
      const seconds = args[flag];
      if (seconds !== undefined && seconds > halfS) {
        ctx.addIssue({ code: 'custom', path: [flag], message: `${seconds} s from the midpoint outlasts the load (${formatS(halfS)} s left of ${formatS(2 * halfS)} s)` });
      }
    }
    if (args['rolling-restart'] && args.kill.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['rolling-restart'], message: 'and --kill both act on the replicas at the midpoint; choose one' });
    }
    if (args.churn !== undefined && 2 * args.churn > 2 * halfS) {
      ctx.addIssue({ code: 'custom', path: ['churn'], message: `a join at ${args.churn} s and a leave at ${2 * args.churn} s do not fit in a load of ${formatS(2 * halfS)} s` });
    }
  });

function formatS(seconds: number): string {
  return String(Math.round(seconds * 10) / 10);
}

export function parseSoakArgs(argv: string[]): ParsedArgs {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        rate: { type: 'string' },
        minutes: { type: 'string' },
        replicas: { type: 'string', default: '1' },
        duplicates: { type: 'string', default: '0' },
        kill: { type: 'string', multiple: true, default: [] },
        'downstream-outage': { type: 'string' },
        'cognigy-storm': { type: 'string' },
        'rolling-restart': { type: 'boolean', default: false },
        churn: { type: 'string' },
        'exactly-once': { type: 'boolean', default: false },
        out: { type: 'string', default: 'soak-report' },
        'skip-build': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    // parseArgs names the offending flag ("Unknown option '--rat'", "Option '--rate <value>' argument missing").
    return { kind: 'error', message: `${(error as Error).message.split('\n')[0]} (see --help)` };
  }
  if (values.help === true) return { kind: 'help' };
  const parsed = SoakArgs.safeParse(values);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    return { kind: 'error', message: `--${String(issue?.path[0] ?? '?')}: ${issue?.message ?? 'invalid'}` };
  }
  const a = parsed.data;
  return {
    kind: 'run',
    options: {
      rate: a.rate,
      minutes: a.minutes,
      replicas: a.replicas,
      duplicates: a.duplicates,
      kill: a.kill,
      downstreamOutageS: a['downstream-outage'] ?? null,
      cognigyStormS: a['cognigy-storm'] ?? null,
      rollingRestart: a['rolling-restart'],
      churnS: a.churn ?? null,
      exactlyOnce: a['exactly-once'],
      out: a.out,
      skipBuild: a['skip-build'],
    },
  };
}
