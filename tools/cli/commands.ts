import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino } from 'pino';
import { clientSettings, connectAdmin, registryAuth } from '../../shared/client-settings.js';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { createKafka, type Admin, type KafkaClient } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import { createRegistry } from '../../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { topicNames } from '../../shared/topics.js';
import type { FetchLike } from '../../shared/cognigy/auth.js';
import { CliEnv, requireCognigyCredentials, type CliConfig } from './config.js';
import { dlqList, dlqRedrive, dlqShow, type DlqContext } from '../../shared/operations/dlq.js';
import { parseDlqFilter, parsePosition } from '../../shared/operations/dlq-filter.js';
import { ExitCode, println, type Out } from '../../shared/operations/output.js';
import { dedupEffectOf, replay } from '../../shared/operations/replay.js';
import { parseReplayTarget } from '../../shared/operations/replay-plan.js';
import { retryPolicyApply, retryPolicyList, webhooksClientOf } from './retry-policy.js';
import { desiredPolicy, type Selection } from './retry-policy-plan.js';
import { parseDateTime, parseDuration, parseInstant, UsageError } from '../../shared/operations/time-spec.js';
import { topicsDescribe, topicsEnsure } from './topics.js';

const USAGE: Record<string, string> = {
  main: `usage: npm run cli -- <command> [options]

commands:
  replay              reset a consumer group's offsets on a topic (dry run unless --execute)
  dlq list            dead letters, newest first
  dlq show P:O        one dead letter: headers and decoded value
  dlq redrive         send dead letters back through the first retry tier (dry run unless --execute)
  topics ensure       create missing topics, check existing ones against the catalogue
  topics describe     topics with their settings, and the lag of each consumer group
  retry-policy list   the retry policy of each webhook of a Cognigy bot
  retry-policy apply  set one retry policy on a bot's webhooks (dry run unless --execute)

Run any command with --help for its options. Settings come from env (KAFKA_BROKERS,
SCHEMA_REGISTRY_URL, TOPIC_PREFIX, ...; COGNIGY_* for retry-policy), as for the services.
exit codes: 0 done, 1 error, 2 usage or configuration error, 3 nothing to do, 4 refused, 5 topic drift`,
  replay: `usage: npm run cli -- replay --group G --topic T <target> [--execute] [--json]

target, exactly one of:
  --to-datetime ISO        first offset at or after the time (a zone is required: Z or +02:00)
  --by-duration D          the same, D ago (90s, 15m, 1h30m, 2d)
  --to-offset P:O          partition P to offset O; repeat for more partitions, others stay
  --to-earliest            the first offset still retained

Prints the plan per partition (current offset -> target, records to process again, lag) and
changes nothing unless --execute is given. Refused while the group has active members.
exit codes: 0 applied (or plan printed), 3 nothing to do, 4 refused (group active)`,
  'dlq list': `usage: npm run cli -- dlq list [filters] [--limit N] [--json]

filters (repeatable ones match any of the values):
  --reason R               dlq-reason header
  --error-class C          error-class header
  --original-topic T       original-topic header
  --since T, --until T     dead-lettered in [since, until): ISO date-time or a duration ago (2h)
--limit N (default 50) caps the rows shown; the counts cover every match.
exit codes: 0 listed, 3 nothing matches`,
  'dlq show': `usage: npm run cli -- dlq show PARTITION:OFFSET [--json]

Headers and the value decoded through the schema registry (raw text when it cannot be decoded).
exit codes: 0 shown, 3 no record there`,
  'dlq redrive': `usage: npm run cli -- dlq redrive [filters of dlq list] [--execute] [--json]

Sends matching callbacks back, original key and bytes unchanged, through the first retry tier
with headers redriven-from=<dlq>:<partition>:<offset>, retry-attempt=0, retry-due-at=now.
Results dead-lettered by the ack aggregator are skipped and counted. Each dead letter is
redriven at most once: progress is committed, in the same transaction as the moved records,
by the group DLQ_REDRIVE_GROUP_ID (default cognigy-dlq-redrive). Dry run unless --execute.
exit codes: 0 moved (or plan printed), 3 nothing to redrive, 4 refused (another redrive runs)`,
  'topics ensure': `usage: npm run cli -- topics ensure [--fix-configs]

Creates missing topics with TOPIC_PARTITIONS, TOPIC_REPLICATION_FACTOR,
TOPIC_MIN_INSYNC_REPLICAS, TOPIC_RETENTION_MS (TOPIC_DLQ_RETENTION_MS,
TOPIC_ACK_BATCHES_RETENTION_MS for the DLQ and the batch records) and retry tiers
1..RETRY_MAX_ATTEMPTS-1; reports drift of existing ones. --fix-configs sets drifted configs.
exit codes: 0 all as catalogued, 5 drift remains`,
  'topics describe': `usage: npm run cli -- topics describe [--group G ...]

Every catalogue topic with partitions, replication, min.insync.replicas, retention and records,
then the lag of FULFILLMENT_GROUP_ID, ACK_GROUP_ID, SESSION_WRITER_GROUP_ID, DLQ_REDRIVE_GROUP_ID
and each --group.`,
  'retry-policy list': `usage: npm run cli -- retry-policy list --bot B [--json]

Every webhook of bot B (all pages) with its current retry policy. Calls Cognigy's admin API at
COGNIGY_BASE_URL with OAuth2 client credentials (COGNIGY_CLIENT_ID, COGNIGY_CLIENT_SECRET,
scope COGNIGY_ADMIN_OAUTH_SCOPE, default bot:webhooks:manage); needs no Kafka broker.
exit codes: 0 listed, 1 Cognigy failed or refused the credentials, 3 the bot has no webhooks`,
  'retry-policy apply': `usage: npm run cli -- retry-policy apply --bot B (--webhook W ... | --all) <policy> [--execute] [--json]

policy, every flag required, checked against the same rules as fulfillment's own retries
before anything is sent:
  --max-attempts N         calls in total, the first included: 1 to 10
  --strategy S             exponential or linear
  --base-delay-ms MS       first delay, 0 or more
  --max-delay-ms MS        cap on every delay, at least the base delay
  --window-s S             no retry later than this after the first failure: 1 to 86400

Prints each selected webhook's current policy and whether it changes; sends nothing unless
--execute. With --execute, PATCHes only the webhooks whose policy differs, one at a time, each
with an Idempotency-Key derived from bot, webhook and policy: a repeated or concurrent run sends
the same key, and Cognigy's 409 (already applied) counts as applied. 429 waits Retry-After (at
most 60 s), 429 without it, 5xx and network errors back off; a call fails after 5 attempts and
the first failure stops the run (run it again: what was applied is not sent twice). 401 and 403
stop at once. Same Cognigy settings as retry-policy list.
exit codes: 0 applied (or plan printed), 1 a call failed, 2 usage or an invalid policy, 3 nothing to do`,
};

const FILTER_OPTIONS = {
  reason: { type: 'string', multiple: true },
  'error-class': { type: 'string', multiple: true },
  'original-topic': { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
} as const;

const OPTIONS = {
  replay: {
    group: { type: 'string' },
    topic: { type: 'string' },
    'to-datetime': { type: 'string' },
    'to-offset': { type: 'string', multiple: true },
    'to-earliest': { type: 'boolean' },
    'by-duration': { type: 'string' },
    execute: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  'dlq list': { ...FILTER_OPTIONS, limit: { type: 'string' }, json: { type: 'boolean' } },
  'dlq show': { json: { type: 'boolean' } },
  'dlq redrive': { ...FILTER_OPTIONS, execute: { type: 'boolean' }, json: { type: 'boolean' } },
  'topics ensure': { 'fix-configs': { type: 'boolean' } },
  'topics describe': { group: { type: 'string', multiple: true } },
  'retry-policy list': { bot: { type: 'string' }, json: { type: 'boolean' } },
  'retry-policy apply': {
    bot: { type: 'string' },
    webhook: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    'max-attempts': { type: 'string' },
    strategy: { type: 'string' },
    'base-delay-ms': { type: 'string' },
    'max-delay-ms': { type: 'string' },
    'window-s': { type: 'string' },
    execute: { type: 'boolean' },
    json: { type: 'boolean' },
  },
} satisfies Record<string, ParseArgsConfig['options']>;

type CommandName = keyof typeof OPTIONS;
/** Commands that call Cognigy and never Kafka. */
type CognigyCommand = 'retry-policy list' | 'retry-policy apply';
type KafkaCommand = Exclude<CommandName, CognigyCommand>;

const isCognigyCommand = (name: CommandName): name is CognigyCommand => name.startsWith('retry-policy ');

/** Clients a command needs; tests hand in their own. */
export interface CliClients {
  kafka: KafkaClient;
  admin: Admin;
}

/**
 * Parses argv, runs one command and returns its exit code. Output goes to `out`, problems to
 * `err`. Without `clients`, Kafka clients are built from env and closed afterwards; commands that
 * only call Cognigy build none.
 */
export async function runCli(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; out?: Out; err?: Out; clients?: CliClients; now?: () => number; fetch?: FetchLike } = {},
): Promise<number> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const [first, second] = argv;
  const name = commandName(first, second);
  const group = Object.keys(USAGE).filter((key) => key.startsWith(`${first} `));
  if (!name && group.length > 0) {
    // `dlq --help`, `topics` alone: the usage of each subcommand.
    const asked = second === undefined || second === '--help' || second === '-h';
    println(asked ? out : err, (asked ? '' : `unknown command: ${first} ${second}\n\n`) + group.map((key) => USAGE[key]).join('\n\n'));
    return asked && second !== undefined ? ExitCode.ok : ExitCode.usage;
  }
  if (!name) {
    const asked = first === undefined || first === '--help' || first === '-h' || first === 'help';
    println(asked ? out : err, (asked ? '' : `unknown command: ${argv.slice(0, 2).join(' ')}\n\n`) + USAGE.main);
    return asked ? ExitCode.ok : ExitCode.usage;
  }
  const rest = argv.slice(name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    println(out, USAGE[name]);
    return ExitCode.ok;
  }
  let config: CliConfig;
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS[name], allowPositionals: name === 'dlq show', strict: true });
    config = loadConfig(CliEnv, opts.env ?? process.env);
    if (isCognigyCommand(name)) requireCognigyCredentials(config);
  } catch (error) {
    const prefix = error instanceof ConfigError ? 'configuration error' : 'error';
    println(err, `${prefix}: ${error instanceof Error ? error.message : String(error)}\n(see: npm run cli -- ${name} --help)`);
    return ExitCode.usage;
  }

  if (isCognigyCommand(name)) {
    return reported(name, config, err, () => runCognigy(name, parsed.values, { config, out, err, fetch: opts.fetch }));
  }

  const owned = opts.clients === undefined;
  const settings = clientSettings(config, 'cognigy-ops-cli').kafka;
  const kafka = opts.clients?.kafka ?? createKafka({ ...settings, logger: clientLogger(config.LOG_LEVEL) });
  const admin = opts.clients?.admin ?? kafka.admin();
  return reported(name, config, err, async () => {
    try {
      if (owned) await connectAdmin(admin, settings);
      return await run(name, parsed.values, parsed.positionals, { config, kafka, admin, out, now: opts.now ?? Date.now });
    } finally {
      if (owned) await admin.disconnect();
    }
  });
}

/** Runs a command, turning what it throws into one line on `err` and an exit code. */
async function reported(name: CommandName, config: CliConfig, err: Out, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UsageError) {
      println(err, `error: ${error.message}\n(see: npm run cli -- ${name} --help)`);
      return ExitCode.usage;
    }
    const debug = config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace';
    println(err, `error: ${error instanceof Error ? ((debug ? error.stack : undefined) ?? error.message) : String(error)}`);
    return ExitCode.error;
  }
}

function commandName(first: string | undefined, second: string | undefined): CommandName | undefined {
  if (first === 'replay') return 'replay';
  const two = `${first} ${second}`;
  return two in OPTIONS ? (two as CommandName) : undefined;
}

interface RunContext {
  config: CliConfig;
  kafka: KafkaClient;
  admin: Admin;
  out: Out;
  now: () => number;
}

async function runCognigy(
  name: CognigyCommand,
  values: Record<string, unknown>,
  ctx: { config: CliConfig; out: Out; err: Out; fetch?: FetchLike },
): Promise<number> {
  const bot = values.bot as string | undefined;
  if (!bot) throw new UsageError('--bot is required');
  if (name === 'retry-policy list') {
    return (await retryPolicyList({ ...ctx, client: webhooksClientOf(ctx.config, ctx) }, { bot, json: values.json === true })).exitCode;
  }
  const ids = (values.webhook as string[] | undefined) ?? [];
  if ((ids.length > 0) === (values.all === true)) throw new UsageError('expected exactly one of --webhook W (repeatable) and --all');
  const selection: Selection = values.all === true ? { kind: 'all' } : { kind: 'webhooks', ids };
  // Checked before the client exists: a policy the rules refuse never reaches Cognigy.
  const desired = desiredPolicy(values as Record<string, string | undefined>);
  const client = webhooksClientOf(ctx.config, ctx);
  return (await retryPolicyApply({ ...ctx, client }, { bot, selection, desired, execute: values.execute === true, json: values.json === true })).exitCode;
}

async function run(name: KafkaCommand, values: Record<string, unknown>, positionals: string[], ctx: RunContext): Promise<number> {
  const { config, admin, out } = ctx;
  const topics = topicNames(config.TOPIC_PREFIX);
  const str = (key: string) => values[key] as string | undefined;
  const list = (key: string) => values[key] as string[] | undefined;
  const flag = (key: string) => values[key] === true;
  const dlq = (): DlqContext => ({
    kafka: ctx.kafka,
    admin,
    topics,
    out,
    redriveGroup: config.DLQ_REDRIVE_GROUP_ID,
    registry: createRegistry(config.SCHEMA_REGISTRY_URL, registryAuth(config)),
    now: ctx.now,
  });
  const filter = () =>
    parseDlqFilter(
      { reason: list('reason'), 'error-class': list('error-class'), 'original-topic': list('original-topic'), since: str('since'), until: str('until') },
      (text) => parseInstant(text, ctx.now()),
    );

  switch (name) {
    case 'replay': {
      const group = str('group');
      const topic = str('topic');
      if (!group || !topic) throw new UsageError('--group and --topic are required');
      const target = parseReplayTarget(
        { 'to-datetime': str('to-datetime'), 'to-offset': list('to-offset'), 'to-earliest': flag('to-earliest'), 'by-duration': str('by-duration') },
        ctx.now(),
        { dateTime: parseDateTime, duration: parseDuration },
      );
      const dedup = dedupEffectOf(topic, topics, config.RETRY_MAX_ATTEMPTS, ctx.kafka);
      return (await replay(admin, { group, topic, target, execute: flag('execute'), json: flag('json'), dedup }, out)).exitCode;
    }
    case 'dlq list': {
      const limit = Number(str('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: expected a positive integer');
      return (await dlqList(dlq(), { filter: filter(), limit, json: flag('json') })).exitCode;
    }
    case 'dlq show': {
      if (positionals.length !== 1) throw new UsageError('expected one PARTITION:OFFSET');
      const { partition, offset } = parsePosition(positionals[0] as string);
      return (await dlqShow(dlq(), { partition, offset, json: flag('json') })).exitCode;
    }
    case 'dlq redrive':
      return (await dlqRedrive(dlq(), { filter: filter(), execute: flag('execute'), json: flag('json') })).exitCode;
    case 'topics ensure':
      return (await topicsEnsure(admin, catalog(config), out, { fixConfigs: flag('fix-configs') })).exitCode;
    case 'topics describe': {
      const groups = [...new Set([config.FULFILLMENT_GROUP_ID, config.ACK_GROUP_ID, config.SESSION_WRITER_GROUP_ID, config.DLQ_REDRIVE_GROUP_ID, ...(list('group') ?? [])])];
      return (await topicsDescribe(admin, catalog(config), groups, out)).exitCode;
    }
  }
}

function catalog(config: CliConfig) {
  try {
    return topicCatalog(topicSettingsFromEnv(config));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The Kafka client's own log, on stderr so it never mixes with a command's output. Its retried
 * request errors are noise to an operator (a failure that matters is thrown and printed), so it
 * only shows with LOG_LEVEL=debug or trace.
 */
function clientLogger(level: CliConfig['LOG_LEVEL']): Logger {
  const shown = level === 'debug' || level === 'trace' ? level : 'fatal';
  return pino({ name: 'ops-cli', level: shown, base: { service: 'ops-cli' } }, pino.destination(2));
}
