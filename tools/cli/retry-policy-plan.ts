import { createHash } from 'node:crypto';
import { scheduleIssues, toWebhookRetryPolicy, type RetrySchedule, type WebhookRetryPolicy } from '../../shared/retry-policy-rules.js';
import { ExitCode, table } from '../../shared/operations/output.js';
import { UsageError } from '../../shared/operations/time-spec.js';

/**
 * The decisions of `retry-policy`, free of I/O: the desired policy from the flags (through the
 * shared retry rules), which webhooks change, the Idempotency-Key of each change, and the table.
 */

/** A webhook's policy as listed. Cognigy may hold values today's rules refuse, so only the types are assumed. */
export type ListedPolicy = Omit<WebhookRetryPolicy, 'backoffStrategy'> & { backoffStrategy: string };

export interface Webhook {
  id: string;
  name: string | null;
  /** null: the webhook has no retry policy. */
  retryPolicy: ListedPolicy | null;
}

/** The flag that sets each field of the schedule. */
export const POLICY_FLAGS: Record<keyof RetrySchedule, string> = {
  maxAttempts: '--max-attempts',
  strategy: '--strategy',
  baseDelayMs: '--base-delay-ms',
  maxDelayMs: '--max-delay-ms',
  windowMs: '--window-s',
};

export type PolicyFlagValues = Partial<Record<'max-attempts' | 'strategy' | 'base-delay-ms' | 'max-delay-ms' | 'window-s', string>>;

/**
 * The policy to set, or a UsageError naming every flag that is missing or breaks a rule. Runs before
 * any call to Cognigy: a policy its engine would refuse is never sent.
 */
export function desiredPolicy(flags: PolicyFlagValues): WebhookRetryPolicy {
  const missing = Object.values(POLICY_FLAGS).filter((flag) => flags[flag.slice(2) as keyof PolicyFlagValues] === undefined);
  if (missing.length > 0) throw new UsageError(`a complete policy is required; missing ${missing.join(', ')}`);
  const problems: string[] = [];
  const integer = (flag: keyof PolicyFlagValues): number => {
    const text = (flags[flag] as string).trim();
    if (/^-?\d+$/.test(text)) return Number(text);
    problems.push(`--${flag}: expected an integer, got "${text}"`);
    return Number.NaN;
  };
  const strategy = flags.strategy as RetrySchedule['strategy'];
  const schedule: RetrySchedule = {
    maxAttempts: integer('max-attempts'),
    strategy,
    baseDelayMs: integer('base-delay-ms'),
    maxDelayMs: integer('max-delay-ms'),
    windowMs: integer('window-s') * 1_000,
  };
  if (problems.length === 0) {
    for (const issue of scheduleIssues(schedule)) problems.push(`${POLICY_FLAGS[issue.field]}: ${issue.message}`);
  }
  if (problems.length > 0) throw new UsageError(`invalid retry policy: ${problems.join('; ')}`);
  return toWebhookRetryPolicy(schedule);
}

/** JSON with object keys sorted at every level: equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The key of "set this policy on this webhook": the same change always sends the same key, whoever
 * sends it and however often, so a retried or concurrent PATCH is applied once (Cognigy answers 409).
 */
export function idempotencyKey(botId: string, webhookId: string, policy: WebhookRetryPolicy): string {
  const digest = createHash('sha256').update(canonicalJson({ botId, webhookId, retryPolicy: policy })).digest('hex');
  return `retry-policy-${digest}`;
}

/** Whether a webhook already has the policy (enabled, every field equal). */
export function hasPolicy(current: ListedPolicy | null, desired: WebhookRetryPolicy): boolean {
  if (current === null) return false;
  return (Object.keys(desired) as (keyof WebhookRetryPolicy)[]).every((field) => current[field] === desired[field]);
}

export type Selection = { kind: 'all' } | { kind: 'webhooks'; ids: string[] };

export interface PlannedWebhook {
  webhook: Webhook;
  change: boolean;
  idempotencyKey: string;
}

/** The selected webhooks in listing order, each with whether it changes. Unknown ids are a usage error. */
export function planApply(botId: string, webhooks: Webhook[], selection: Selection, desired: WebhookRetryPolicy): PlannedWebhook[] {
  let chosen = webhooks;
  if (selection.kind === 'webhooks') {
    const known = new Set(webhooks.map((w) => w.id));
    const unknown = selection.ids.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new UsageError(`--webhook: bot ${botId} has no webhook ${unknown.join(', ')}`);
    const wanted = new Set(selection.ids);
    chosen = webhooks.filter((w) => wanted.has(w.id));
  }
  return chosen.map((webhook) => ({
    webhook,
    change: !hasPolicy(webhook.retryPolicy, desired),
    idempotencyKey: idempotencyKey(botId, webhook.id, desired),
  }));
}

/** What happened to one selected webhook. */
export type WebhookAction = 'unchanged' | 'would change' | 'applied' | 'already applied' | 'failed' | 'not sent';

export type ApplyOutcome = 'planned' | 'applied' | 'nothing-to-do' | 'failed';

export const APPLY_EXIT: Record<ApplyOutcome, number> = {
  planned: ExitCode.ok,
  applied: ExitCode.ok,
  'nothing-to-do': ExitCode.nothingToDo,
  failed: ExitCode.error,
};

export function describePolicy(p: ListedPolicy): string {
  const state = p.enabled ? '' : ' (disabled)';
  return `${p.maxAttempts} attempts, ${p.backoffStrategy}, base ${p.baseDelayMs} ms, max ${p.maxDelayMs} ms, window ${p.maxRetryWindowSeconds} s${state}`;
}

const HEADER = ['webhook', 'name', 'enabled', 'attempts', 'strategy', 'base ms', 'max ms', 'window s'];

function policyCells(w: Webhook): string[] {
  const p = w.retryPolicy;
  const cells = p === null ? ['none', '-', '-', '-', '-', '-'] : [p.enabled ? 'yes' : 'no', ...[p.maxAttempts, p.backoffStrategy, p.baseDelayMs, p.maxDelayMs, p.maxRetryWindowSeconds].map(String)];
  return [w.id, w.name ?? '-', ...cells];
}

/** Each webhook's current policy, one row each. */
export function policyTable(webhooks: Webhook[]): string[] {
  return table([HEADER, ...webhooks.map(policyCells)]);
}

/** The current policies with what happens to each. */
export function actionTable(rows: { webhook: Webhook; action: WebhookAction }[]): string[] {
  return table([[...HEADER, 'action'], ...rows.map((r) => [...policyCells(r.webhook), r.action])]);
}
