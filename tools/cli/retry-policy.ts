import { oauthClientOf, type FetchLike } from '../../shared/cognigy/auth.js';
import { errorMessage } from '../../shared/errors.js';
import type { WebhookRetryPolicy } from '../../shared/retry-policy-rules.js';
import { requireCognigyCredentials, type CliConfig } from './config.js';
import { ExitCode, println, type Out } from '../../shared/operations/output.js';
import { WebhooksClient } from './retry-policy-client.js';
import {
  APPLY_EXIT,
  actionTable,
  describePolicy,
  planApply,
  policyTable,
  type ApplyOutcome,
  type Selection,
  type Webhook,
  type WebhookAction,
} from './retry-policy-plan.js';

/** Calls per request; with the default backoff a failing call gives up after about 10 s. */
const CALL_ATTEMPTS = 5;
/** Longer waits asked by Retry-After end the command: an operator is waiting for it. */
const MAX_RETRY_AFTER_MS = 60_000;

/** The admin API client from the CLI's env; each wait before a retry is reported on `err`. */
export function webhooksClientOf(config: CliConfig, io: { err: Out; fetch?: FetchLike }): WebhooksClient {
  requireCognigyCredentials(config);
  const auth = oauthClientOf(config, config.COGNIGY_ADMIN_OAUTH_SCOPE, { fetch: io.fetch });
  return new WebhooksClient(
    {
      baseUrl: config.COGNIGY_BASE_URL,
      timeoutMs: config.COGNIGY_TIMEOUT_MS,
      attempts: CALL_ATTEMPTS,
      baseDelayMs: config.COGNIGY_RETRY_BASE_DELAY_MS,
      maxDelayMs: config.COGNIGY_RETRY_MAX_DELAY_MS,
      maxRetryAfterMs: MAX_RETRY_AFTER_MS,
      scope: config.COGNIGY_ADMIN_OAUTH_SCOPE,
    },
    auth,
    {
      fetch: io.fetch,
      onRetry: (n) => println(io.err, `${n.call}: ${n.reason}; attempt ${n.attempt + 1} of ${CALL_ATTEMPTS} in ${n.delayMs} ms`),
    },
  );
}

export interface RetryPolicyContext {
  client: WebhooksClient;
  out: Out;
  err: Out;
}

/** Every webhook of a bot with its current retry policy. */
export async function retryPolicyList(ctx: RetryPolicyContext, options: { bot: string; json?: boolean }): Promise<{ exitCode: number; webhooks: Webhook[] }> {
  const webhooks = await ctx.client.list(options.bot);
  const exitCode = webhooks.length === 0 ? ExitCode.nothingToDo : ExitCode.ok;
  if (options.json) {
    println(ctx.out, JSON.stringify({ bot: options.bot, webhooks }));
  } else {
    println(ctx.out, `bot ${options.bot}: ${webhooks.length} webhook(s)`);
    if (webhooks.length > 0) for (const line of policyTable(webhooks)) println(ctx.out, `  ${line}`);
  }
  return { exitCode, webhooks };
}

export interface ApplyOptions {
  bot: string;
  selection: Selection;
  /** Already checked against the retry rules. */
  desired: WebhookRetryPolicy;
  execute: boolean;
  json?: boolean;
}

export interface ApplyResult {
  outcome: ApplyOutcome;
  exitCode: number;
  webhooks: { id: string; action: WebhookAction; idempotencyKey: string }[];
}

/**
 * Sets one retry policy on the selected webhooks of a bot. Lists them first and sends a PATCH only
 * to those whose policy differs, one at a time, each with the Idempotency-Key of its change. The
 * first failure stops the run: what was applied stays applied, and running the same command again
 * sends only what is still missing.
 */
export async function retryPolicyApply(ctx: RetryPolicyContext, options: ApplyOptions): Promise<ApplyResult> {
  const { bot, desired } = options;
  const plan = planApply(bot, await ctx.client.list(bot), options.selection, desired);
  const changes = plan.filter((p) => p.change);
  const actions = new Map<string, WebhookAction>(plan.map((p) => [p.webhook.id, p.change ? (options.execute ? 'not sent' : 'would change') : 'unchanged']));

  let failure: string | undefined;
  if (options.execute) {
    for (const { webhook, idempotencyKey } of changes) {
      try {
        actions.set(webhook.id, await ctx.client.patch(bot, webhook.id, desired, idempotencyKey));
      } catch (error) {
        actions.set(webhook.id, 'failed');
        failure = errorMessage(error);
        break;
      }
    }
  }
  const outcome: ApplyOutcome =
    failure !== undefined ? 'failed' : changes.length === 0 ? 'nothing-to-do' : options.execute ? 'applied' : 'planned';
  const rows = plan.map((p) => ({ webhook: p.webhook, action: actions.get(p.webhook.id) as WebhookAction }));
  const count = (action: WebhookAction) => rows.filter((r) => r.action === action).length;

  if (options.json) {
    const webhooks = plan.map((p) => ({ ...p.webhook, action: actions.get(p.webhook.id), idempotencyKey: p.idempotencyKey }));
    println(ctx.out, JSON.stringify({ bot, desired, execute: options.execute, outcome, webhooks, ...(failure ? { error: failure } : {}) }));
  } else {
    println(ctx.out, `bot ${bot}: ${plan.length} webhook(s) selected; desired policy: ${describePolicy(desired)}`);
    if (rows.length > 0) for (const line of actionTable(rows)) println(ctx.out, `  ${line}`);
    if (outcome === 'nothing-to-do') println(ctx.out, 'nothing to do: every selected webhook already has this policy');
    if (outcome === 'planned') println(ctx.out, `dry run: ${changes.length} of ${plan.length} webhook(s) would change; nothing was sent. Add --execute to apply.`);
    if (options.execute && changes.length > 0) {
      const already = count('already applied');
      println(
        ctx.out,
        `applied ${count('applied') + already} of ${changes.length} change(s)` +
          (already > 0 ? ` (${already} already applied under the same Idempotency-Key)` : '') +
          (count('not sent') > 0 ? `; ${count('not sent')} not sent` : ''),
      );
    }
  }
  if (failure !== undefined) println(ctx.err, `error: ${failure}`);
  return { outcome, exitCode: APPLY_EXIT[outcome], webhooks: plan.map((p) => ({ id: p.webhook.id, action: actions.get(p.webhook.id) as WebhookAction, idempotencyKey: p.idempotencyKey })) };
}
