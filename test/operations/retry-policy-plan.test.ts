import { describe, expect, it } from 'vitest';
import { validateRetryPolicy } from '../../services/fulfillment/retry-policy.js';
import type { WebhookRetryPolicy } from '../../shared/retry-policy-rules.js';
import {
  actionTable,
  canonicalJson,
  desiredPolicy,
  idempotencyKey,
  planApply,
  policyTable,
  type PolicyFlagValues,
  type Webhook,
} from '../../tools/cli/retry-policy-plan.js';
import { UsageError } from '../../shared/operations/time-spec.js';

const flags: PolicyFlagValues = {
  'max-attempts': '5',
  strategy: 'linear',
  'base-delay-ms': '200',
  'max-delay-ms': '5000',
  'window-s': '1800',
};

const desired: WebhookRetryPolicy = {
  enabled: true,
  maxAttempts: 5,
  backoffStrategy: 'linear',
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryWindowSeconds: 1_800,
};

const webhook = (id: string, retryPolicy: Webhook['retryPolicy']): Webhook => ({ id, name: `hook ${id}`, retryPolicy });

function refusal(change: PolicyFlagValues): string {
  try {
    desiredPolicy({ ...flags, ...change });
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('the policy was accepted');
}

describe('the desired policy from the flags', () => {
  it("maps the flags to Cognigy's retryPolicy, window in seconds, always enabled", () => {
    expect(desiredPolicy(flags)).toEqual(desired);
  });

  it('refuses each broken rule naming the flag', () => {
    expect(refusal({ 'max-attempts': '11' })).toMatch(/--max-attempts: /);
    expect(refusal({ 'max-attempts': '0' })).toMatch(/--max-attempts: /);
    expect(refusal({ 'window-s': '86401' })).toMatch(/--window-s: expected at most .*86400 s/);
    expect(refusal({ 'window-s': '0' })).toMatch(/--window-s: /);
    expect(refusal({ strategy: 'fibonacci' })).toMatch(/--strategy: .*exponential.*linear/);
    expect(refusal({ 'base-delay-ms': '-1' })).toMatch(/--base-delay-ms: /);
    expect(refusal({ 'base-delay-ms': '6000' })).toMatch(/--max-delay-ms: expected at least the base delay/);
  });

  it('accepts the limits themselves', () => {
    expect(desiredPolicy({ ...flags, 'max-attempts': '10', 'window-s': '86400', 'base-delay-ms': '0', 'max-delay-ms': '0' })).toMatchObject({
      maxAttempts: 10,
      maxRetryWindowSeconds: 86_400,
    });
    expect(desiredPolicy({ ...flags, 'max-attempts': '1' })).toMatchObject({ maxAttempts: 1 });
  });

  it('names every missing flag and refuses text that is not an integer', () => {
    expect(() => desiredPolicy({ strategy: 'linear' })).toThrow(/missing --max-attempts, --base-delay-ms, --max-delay-ms, --window-s/);
    expect(refusal({ 'window-s': '1.5' })).toMatch(/--window-s: expected an integer, got "1.5"/);
    expect(refusal({ 'max-attempts': 'three' })).toMatch(/--max-attempts: expected an integer/);
  });

  it("decides as fulfillment's own retry configuration does, for every case", () => {
    const cases: PolicyFlagValues[] = [
      {},
      { 'max-attempts': '10' },
      { 'max-attempts': '11' },
      { 'max-attempts': '0' },
      { 'window-s': '86400' },
      { 'window-s': '86401' },
      { 'base-delay-ms': '5000' },
      { 'base-delay-ms': '5001' },
      { 'max-delay-ms': '-1' },
      { strategy: 'exponential' },
      { strategy: 'constant' },
    ];
    for (const change of cases) {
      const f = { ...flags, ...change };
      const cli = (() => {
        try {
          desiredPolicy(f);
          return true;
        } catch {
          return false;
        }
      })();
      const fulfillment = (() => {
        try {
          validateRetryPolicy({
            maxAttempts: Number(f['max-attempts']),
            strategy: f.strategy as 'linear',
            baseDelayMs: Number(f['base-delay-ms']),
            maxDelayMs: Number(f['max-delay-ms']),
            windowMs: Number(f['window-s']) * 1_000,
            jitter: 0.1,
          });
          return true;
        } catch {
          return false;
        }
      })();
      expect({ change, accepted: cli }).toEqual({ change, accepted: fulfillment });
    }
  });
});

describe('the Idempotency-Key of a change', () => {
  it('is the same for the same bot, webhook and policy, whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(desired).reverse()) as unknown as WebhookRetryPolicy;
    expect(idempotencyKey('bot-a', 'wh-1', reordered)).toBe(idempotencyKey('bot-a', 'wh-1', desired));
    expect(idempotencyKey('bot-a', 'wh-1', desired)).toMatch(/^retry-policy-[0-9a-f]{64}$/);
  });

  it('differs when the bot, the webhook or any field of the policy differs', () => {
    const key = idempotencyKey('bot-a', 'wh-1', desired);
    const others = [
      idempotencyKey('bot-b', 'wh-1', desired),
      idempotencyKey('bot-a', 'wh-2', desired),
      ...Object.keys(desired).map((field) => {
        const value = desired[field as keyof WebhookRetryPolicy];
        const changed = typeof value === 'number' ? value + 1 : typeof value === 'boolean' ? !value : 'exponential';
        return idempotencyKey('bot-a', 'wh-1', { ...desired, [field]: changed });
      }),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
  });

  it('comes from canonical JSON: keys sorted at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
  });
});

describe('the plan of an apply', () => {
  const hooks = [
    webhook('wh-1', { ...desired }),
    webhook('wh-2', { ...desired, maxAttempts: 3 }),
    webhook('wh-3', null),
    webhook('wh-4', { ...desired, enabled: false }),
  ];

  it('changes only webhooks whose policy differs, is missing or is disabled', () => {
    const plan = planApply('bot-a', hooks, { kind: 'all' }, desired);
    expect(plan.map((p) => [p.webhook.id, p.change])).toEqual([
      ['wh-1', false],
      ['wh-2', true],
      ['wh-3', true],
      ['wh-4', true],
    ]);
    expect(plan[1]?.idempotencyKey).toBe(idempotencyKey('bot-a', 'wh-2', desired));
  });

  it('keeps to the named webhooks and refuses one the bot does not have', () => {
    expect(planApply('bot-a', hooks, { kind: 'webhooks', ids: ['wh-2'] }, desired).map((p) => p.webhook.id)).toEqual(['wh-2']);
    expect(() => planApply('bot-a', hooks, { kind: 'webhooks', ids: ['wh-2', 'wh-9'] }, desired)).toThrow(/bot bot-a has no webhook wh-9/);
  });

  it('prints one row per webhook with its current policy, and the action when applying', () => {
    expect(policyTable(hooks.slice(1, 3))).toEqual([
      'webhook  name       enabled  attempts  strategy  base ms  max ms  window s',
      'wh-2     hook wh-2  yes      3         linear    200      5000    1800',
      'wh-3     hook wh-3  none     -         -         -        -       -',
    ]);
    expect(actionTable([{ webhook: hooks[0] as Webhook, action: 'unchanged' }])[1]).toMatch(/^wh-1 .* 5 .* linear .* unchanged$/);
  });
});
