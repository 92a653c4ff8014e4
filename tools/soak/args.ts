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

const SoakArgs = z
  .object({
    rate: numberArg('callbacks per second, more than 0 and at most 10000', (n) => n > 0 && n <= 10_000),
    minutes: numberArg('minutes, more than 0 and at most 1440', (n) => n > 0 && n <= 1_440),
    replicas: numberArg('a whole number from 1 to 8', (n) => Number.isInteger(n) && n >= 1 && n <= 8),
    duplicates: numberArg('a share from 0 to 1', (n) => n >= 0 && n <= 1),
    kill: z.array(z.enum(KILLABLE, { error: (issue) => `expected one of ${KILLABLE.join(', ')}, got "${String(issue.input)}"` })),
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
  });

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
      exactlyOnce: a['exactly-once'],
      out: a.out,
      skipBuild: a['skip-build'],
    },
  };
}
