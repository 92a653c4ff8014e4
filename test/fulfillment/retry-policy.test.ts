import { describe, expect, it } from 'vitest';
import { InvalidRetryPolicy, nextRetry, validateRetryPolicy, type RetryPolicy } from '../../services/fulfillment/retry-policy.js';
import { fulfillmentInputs, topicNames } from '../../shared/topics.js';

const policy: RetryPolicy = {
  maxAttempts: 4,
  strategy: 'exponential',
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  windowMs: 3_600_000,
  jitter: 0,
};
const now = 1_700_000_000_000;

describe('nextRetry', () => {
  it('doubles the delay per attempt with the exponential strategy, on the tier named after the failed attempt', () => {
    expect(nextRetry(policy, 1, now)).toEqual({ kind: 'retry', tier: 1, delayMs: 1_000, dueAt: now + 1_000 });
    expect(nextRetry(policy, 2, now)).toMatchObject({ tier: 2, delayMs: 2_000 });
    expect(nextRetry(policy, 3, now)).toMatchObject({ tier: 3, delayMs: 4_000 });
  });

  it('grows the delay by the base per attempt with the linear strategy', () => {
    const linear = { ...policy, strategy: 'linear' as const, maxAttempts: 10 };
    expect([1, 2, 3].map((a) => (nextRetry(linear, a, now) as { delayMs: number }).delayMs)).toEqual([1_000, 2_000, 3_000]);
  });

  it('caps the delay at the maximum', () => {
    const capped = { ...policy, maxAttempts: 10, maxDelayMs: 5_000 };
    expect(nextRetry(capped, 8, now)).toMatchObject({ delayMs: 5_000 });
  });

  it('gives up once maxAttempts calls were made, counting the first', () => {
    expect(nextRetry(policy, 4, now)).toEqual({ kind: 'exhausted', reason: 'attempts' });
    expect(nextRetry({ ...policy, maxAttempts: 1 }, 1, now)).toEqual({ kind: 'exhausted', reason: 'attempts' });
  });

  it('gives up when the next attempt would fall outside the retry window from the first failure', () => {
    const window = { ...policy, windowMs: 10_000 };
    expect(nextRetry(window, 3, now, { firstFailedAt: now - 5_000 })).toMatchObject({ kind: 'retry', dueAt: now + 4_000 });
    expect(nextRetry(window, 3, now, { firstFailedAt: now - 7_000 })).toEqual({ kind: 'exhausted', reason: 'window' });
  });

  it('spreads the delay by at most the jitter share, either way, never past the maximum', () => {
    const jittered = { ...policy, jitter: 0.1 };
    expect(nextRetry(jittered, 1, now, { random: () => 0 })).toMatchObject({ delayMs: 900 });
    expect(nextRetry(jittered, 1, now, { random: () => 1 })).toMatchObject({ delayMs: 1_100 });
    expect(nextRetry({ ...jittered, maxDelayMs: 1_000 }, 1, now, { random: () => 1 })).toMatchObject({ delayMs: 1_000 });
  });
});

describe('retry policy validation', () => {
  it('accepts the defaults of DESIGN', () => {
    expect(validateRetryPolicy({ ...policy, jitter: 0.1 })).toEqual({ ...policy, jitter: 0.1 });
  });

  it.each([
    ['maxAttempts 0', { maxAttempts: 0 }],
    ['maxAttempts 11', { maxAttempts: 11 }],
    ['an unknown strategy', { strategy: 'fibonacci' }],
    ['a window over 86400 s', { windowMs: 86_400_001 }],
    ['jitter over 10 %', { jitter: 0.11 }],
    ['a base delay above the maximum', { baseDelayMs: 40_000 }],
  ])('refuses %s', (_name, change) => {
    expect(() => validateRetryPolicy({ ...policy, ...change } as RetryPolicy)).toThrow(InvalidRetryPolicy);
  });

  it('creates retry tiers 1 .. maxAttempts-1', () => {
    const topics = topicNames('');
    expect(fulfillmentInputs(topics, 4)).toEqual([topics.callbacks, topics.retry(1), topics.retry(2), topics.retry(3)]);
    expect(fulfillmentInputs(topics, 1)).toEqual([topics.callbacks]);
  });
});
