import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { SEEDED_POLICY } from '../../services/cognigy-simulator/webhooks-api.js';
import type { FetchLike } from '../../shared/cognigy/auth.js';
import { runCli } from '../../tools/cli/commands.js';
import { captureOut, ExitCode } from '../../shared/operations/output.js';
import { ContractCheck } from '../support/cognigy-contract.js';

/**
 * `retry-policy` against the simulator over HTTP. No broker: KAFKA_BROKERS points at a closed port,
 * so a command that touched Kafka would fail. Every request the CLI sends, and every answer it
 * gets, is held to the Cognigy contract.
 */
let sim: RunningSimulator;
const contract = new ContractCheck({ requests: true, answers: true });

beforeAll(async () => {
  sim = await startSimulator(0);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.webhooks.reset();
  sim.cognigy.reset();
});
afterEach(() => contract.verify());

async function cli(argv: string[], env: Record<string, string> = {}, fetch?: FetchLike) {
  const out = captureOut();
  const err = captureOut();
  const code = await runCli(['retry-policy', ...argv], {
    env: {
      KAFKA_BROKERS: '127.0.0.1:1',
      COGNIGY_BASE_URL: sim.url,
      COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
      COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
      COGNIGY_RETRY_BASE_DELAY_MS: '10',
      COGNIGY_RETRY_MAX_DELAY_MS: '50',
      ...env,
    },
    out,
    err,
    fetch: contract.wrap(fetch),
  });
  return { code, out: out.text(), err: err.text() };
}

const POLICY = ['--max-attempts', '5', '--strategy', 'linear', '--base-delay-ms', '200', '--max-delay-ms', '5000', '--window-s', '1800'];
const DESIRED = { enabled: true, maxAttempts: 5, backoffStrategy: 'linear', baseDelayMs: 200, maxDelayMs: 5_000, maxRetryWindowSeconds: 1_800 };

const policies = (bot: string) => [...(sim.webhooks.bots.get(bot)?.values() ?? [])].map((w) => [w.id, w.retryPolicy]);
const calls = (method: 'GET' | 'PATCH') => sim.webhooks.calls.filter((c) => c.method === method);
const appliedPerWebhook = () => {
  const counts = new Map<string, number>();
  for (const a of sim.webhooks.applied) counts.set(a.webhookId, (counts.get(a.webhookId) ?? 0) + 1);
  return counts;
};

/** Five webhooks, two of which already have the desired policy. */
function seedMixed(bot = 'bot-a') {
  sim.webhooks.seed(bot, {
    items: [
      { id: 'wh-1' },
      { id: 'wh-2', retryPolicy: DESIRED as never },
      { id: 'wh-3', retryPolicy: null },
      { id: 'wh-4', retryPolicy: DESIRED as never },
      { id: 'wh-5', retryPolicy: { ...DESIRED, enabled: false } as never },
    ],
  });
}

describe('retry-policy usage', () => {
  it('prints both subcommands with their flags and exit codes', async () => {
    const { code, out } = await cli(['--help']);
    expect(code).toBe(ExitCode.ok);
    expect(out).toMatch(/retry-policy list --bot B[\s\S]*exit codes: 0 listed/);
    for (const flag of ['--webhook W', '--all', '--max-attempts', '--strategy', '--base-delay-ms', '--max-delay-ms', '--window-s', '--execute']) {
      expect(out).toContain(flag);
    }
    expect(out).toMatch(/exit codes: 0 applied \(or plan printed\), 1 a call failed, 2 usage or an invalid policy, 3 nothing to do/);
  });
});

describe('retry-policy list', () => {
  it('follows the cursor across three pages and prints every webhook once', async () => {
    sim.webhooks.seed('bot-a', { count: 250 });
    const { code, out } = await cli(['list', '--bot', 'bot-a']);
    expect(code).toBe(ExitCode.ok);
    const gets = calls('GET');
    expect(gets.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(contract.exchanges.map((e) => e.endpoint)).toEqual(['token', 'listWebhooks', 'listWebhooks', 'listWebhooks']);
    expect(out).toMatch(/^bot bot-a: 250 webhook\(s\)\n/);
    const rows = out.split('\n').filter((line) => /^\s+wh-\d{4}\s/.test(line));
    expect(rows).toHaveLength(250);
    expect(rows[0]).toMatch(/wh-0001 .* yes +3 +exponential +1000 +30000 +3600$/);
    expect(rows[249]).toMatch(/^\s+wh-0250\s/);
  });

  it('answers --json with every webhook in order', async () => {
    sim.webhooks.seed('bot-a', { count: 201 });
    const { code, out } = await cli(['list', '--bot', 'bot-a', '--json']);
    expect(code).toBe(ExitCode.ok);
    const listed = JSON.parse(out) as { webhooks: { id: string; retryPolicy: unknown }[] };
    expect(listed.webhooks.map((w) => w.id)).toEqual(Array.from({ length: 201 }, (_, i) => `wh-${String(i + 1).padStart(4, '0')}`));
    expect(listed.webhooks[200]?.retryPolicy).toEqual(SEEDED_POLICY);
  });

  it('exits 3 for a bot without webhooks', async () => {
    sim.webhooks.seed('bot-empty', { count: 0 });
    expect((await cli(['list', '--bot', 'bot-empty'])).code).toBe(ExitCode.nothingToDo);
  });
});

describe('retry-policy apply', () => {
  it('prints current against desired in a dry run and sends no PATCH', async () => {
    seedMixed();
    const before = policies('bot-a');
    const { code, out } = await cli(['apply', '--bot', 'bot-a', '--all', ...POLICY]);
    expect(code).toBe(ExitCode.ok);
    expect(out).toMatch(/desired policy: 5 attempts, linear, base 200 ms, max 5000 ms, window 1800 s/);
    expect(out).toMatch(/wh-1 .* would change\n/);
    expect(out).toMatch(/wh-2 .* unchanged\n/);
    expect(out).toMatch(/wh-3 .* none .* would change\n/);
    expect(out).toMatch(/wh-5 .* no .* would change\n/);
    expect(out).toMatch(/dry run: 3 of 5 webhook\(s\) would change; nothing was sent/);
    expect(calls('PATCH')).toHaveLength(0);
    expect(sim.webhooks.applied).toHaveLength(0);
    expect(policies('bot-a')).toEqual(before);
  });

  it('applies each change once with --execute; running it again finds nothing to do', async () => {
    seedMixed();
    const first = await cli(['apply', '--bot', 'bot-a', '--all', ...POLICY, '--execute']);
    expect(first.code).toBe(ExitCode.ok);
    expect(first.out).toMatch(/applied 3 of 3 change\(s\)/);
    expect(calls('PATCH').map((c) => [c.webhookId, c.status])).toEqual([
      ['wh-1', 200],
      ['wh-3', 200],
      ['wh-5', 200],
    ]);
    expect(contract.answered('patchWebhook')).toEqual([200]);
    expect(policies('bot-a').every(([, p]) => JSON.stringify(p) === JSON.stringify(DESIRED))).toBe(true);

    const second = await cli(['apply', '--bot', 'bot-a', '--all', ...POLICY, '--execute']);
    expect(second.code).toBe(ExitCode.nothingToDo);
    expect(second.out).toMatch(/nothing to do/);
    expect(calls('PATCH')).toHaveLength(3);
    expect([...appliedPerWebhook().values()]).toEqual([1, 1, 1]);
  });

  it('applies a change once when two runs send it at the same time: both send the same key, one gets 409', async () => {
    seedMixed();
    // Both runs list before either PATCH is handled, so each plans all three changes.
    sim.webhooks.inject({ latencyMs: 150 });
    const runs = await Promise.all([1, 2].map(() => cli(['apply', '--bot', 'bot-a', '--all', ...POLICY, '--execute', '--json'])));
    expect(runs.map((r) => r.code)).toEqual([ExitCode.ok, ExitCode.ok]);
    expect(calls('PATCH')).toHaveLength(6);
    expect(calls('PATCH').filter((c) => c.status === 409)).toHaveLength(3);
    expect(contract.answered('patchWebhook')).toEqual([200, 409]);
    expect(Object.fromEntries(appliedPerWebhook())).toEqual({ 'wh-1': 1, 'wh-3': 1, 'wh-5': 1 });
    const actions = runs.flatMap((r) => (JSON.parse(r.out) as { webhooks: { action: string }[] }).webhooks.map((w) => w.action));
    expect(actions.filter((a) => a === 'already applied')).toHaveLength(3);
  });

  it('retries a PATCH whose answer was lost with the same key, and counts the 409 as applied', async () => {
    seedMixed();
    sim.webhooks.inject({ resetAfterApply: 1 });
    const { code, out, err } = await cli(['apply', '--bot', 'bot-a', '--webhook', 'wh-1', ...POLICY, '--execute']);
    expect(code).toBe(ExitCode.ok);
    expect(err).toMatch(/PATCH webhook wh-1: .*failed.*; attempt 2 of 5/);
    expect(calls('PATCH').map((c) => c.status)).toEqual([0, 409]);
    expect(new Set(calls('PATCH').map((c) => c.idempotencyKey)).size).toBe(1);
    expect(sim.webhooks.applied).toHaveLength(1);
    expect(out).toMatch(/wh-1 .* already applied\n/);
  });

  it('refuses a policy the retry rules refuse before any request, token included', async () => {
    seedMixed();
    const invalid = [
      { flag: '--max-attempts', value: '11', shown: /--max-attempts: expected 1 to 10/ },
      { flag: '--window-s', value: '90000', shown: /--window-s: expected at most/ },
      { flag: '--strategy', value: 'random', shown: /--strategy: / },
      { flag: '--max-delay-ms', value: '100', shown: /--max-delay-ms: expected at least the base delay/ },
    ];
    for (const { flag, value, shown } of invalid) {
      const argv = [...POLICY];
      argv[argv.indexOf(flag) + 1] = value;
      const { code, err } = await cli(['apply', '--bot', 'bot-a', '--all', ...argv, '--execute']);
      expect(code).toBe(ExitCode.usage);
      expect(err).toMatch(shown);
    }
    expect(sim.webhooks.calls).toHaveLength(0);
    expect(sim.cognigy.tokenRequests).toHaveLength(0);
  });

  it('waits what Retry-After asks after a 429, not its own shorter backoff', async () => {
    seedMixed();
    sim.webhooks.inject({ rateLimit: { count: 1, retryAfterS: 1 } });
    const { code, err } = await cli(['apply', '--bot', 'bot-a', '--webhook', 'wh-1', ...POLICY, '--execute']);
    expect(code).toBe(ExitCode.ok);
    const [limited, retried] = sim.webhooks.calls;
    expect(limited?.status).toBe(429);
    expect(retried?.status).toBe(200);
    // The backoff alone would wait at most COGNIGY_RETRY_MAX_DELAY_MS (50 ms).
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(990);
    expect(err).toMatch(/retry after 1000 ms; attempt 2 of 5 in 1000 ms/);
    expect(contract.answered('listWebhooks')).toEqual([200, 429]);
    expect(sim.webhooks.applied).toHaveLength(1);
  });

  it('gives up after five attempts of a call Cognigy keeps failing, and exits 1', async () => {
    seedMixed();
    sim.webhooks.inject({ serverErrors: 100 });
    const { code, err } = await cli(['apply', '--bot', 'bot-a', '--all', ...POLICY, '--execute']);
    expect(code).toBe(ExitCode.error);
    expect(err).toMatch(/error: list webhooks of bot bot-a: Cognigy answered 500; gave up after 5 attempts/);
    expect(calls('GET')).toHaveLength(5);
    expect(calls('PATCH')).toHaveLength(0);
    expect(contract.answered('listWebhooks')).toEqual([500]);
  });

  it('stops at the first PATCH that fails: what was applied stays, the rest is not sent', async () => {
    seedMixed();
    // The listing passes, the first PATCH is applied, then Cognigy answers 500 to every call.
    let patches = 0;
    const failAfterFirstPatch: FetchLike = async (url, init) => {
      const response = await fetch(url, init);
      if (init.method === 'PATCH' && ++patches === 1) sim.webhooks.inject({ serverErrors: 100 });
      return response;
    };
    const result = await cli(['apply', '--bot', 'bot-a', '--all', ...POLICY, '--execute'], {}, failAfterFirstPatch);
    expect(result.code).toBe(ExitCode.error);
    expect(result.err).toMatch(/error: PATCH webhook wh-3: Cognigy answered 500; gave up after 5 attempts/);
    expect(result.out).toMatch(/wh-1 .* applied\n[\s\S]*wh-3 .* failed\n[\s\S]*wh-5 .* not sent\n/);
    expect(sim.webhooks.applied.map((a) => a.webhookId)).toEqual(['wh-1']);
  });

  it('fails with one clear line on 403 (token without the manage scope) and on refused credentials', async () => {
    seedMixed();
    const readOnly = await cli(['apply', '--bot', 'bot-a', '--all', ...POLICY, '--execute'], { COGNIGY_ADMIN_OAUTH_SCOPE: 'bot:webhooks:read' });
    expect(readOnly.code).toBe(ExitCode.error);
    expect(readOnly.err).toMatch(/^error: PATCH webhook wh-1: Cognigy answered 403: the OAuth2 client is not allowed scope bot:webhooks:read/);
    expect(calls('PATCH').map((c) => c.status)).toEqual([403]);
    expect(contract.answered('patchWebhook')).toEqual([403]);
    expect(sim.webhooks.applied).toHaveLength(0);

    const wrongSecret = await cli(['list', '--bot', 'bot-a'], { COGNIGY_CLIENT_SECRET: 'wrong' });
    expect(wrongSecret.code).toBe(ExitCode.error);
    expect(wrongSecret.err).toMatch(/^error: list webhooks of bot bot-a: token endpoint refused the client credentials with 401/);
    expect(contract.answered('token')).toEqual([200, 401]);
  });

  it('names a missing credential as a configuration error, before any request', async () => {
    const { code, err } = await cli(['list', '--bot', 'bot-a'], { COGNIGY_CLIENT_ID: '' });
    expect(code).toBe(ExitCode.usage);
    expect(err).toMatch(/^configuration error: COGNIGY_CLIENT_ID: expected a value/);
    expect(sim.cognigy.tokenRequests).toHaveLength(0);
  });

  it('refuses --webhook together with --all, and a webhook the bot does not have', async () => {
    seedMixed();
    expect((await cli(['apply', '--bot', 'bot-a', '--all', '--webhook', 'wh-1', ...POLICY])).code).toBe(ExitCode.usage);
    const unknown = await cli(['apply', '--bot', 'bot-a', '--webhook', 'wh-9', ...POLICY]);
    expect(unknown.code).toBe(ExitCode.usage);
    expect(unknown.err).toMatch(/bot bot-a has no webhook wh-9/);
  });
});
