import { describe, expect, it } from 'vitest';
import { FulfillmentEnv, retryPolicyOf, thresholdsOf } from '../../services/fulfillment/config.js';
import { ConfigError, loadConfig } from '../../shared/config.js';

describe('fulfillment configuration', () => {
  it('has the defaults of DESIGN', () => {
    const config = loadConfig(FulfillmentEnv, {});
    expect(config).toMatchObject({
      FULFILLMENT_GROUP_ID: 'cognigy-fulfillment',
      CONFIDENCE_THRESHOLD: 0.8,
      DOWNSTREAM_TIMEOUT_MS: 5_000,
      BREAKER_CONSECUTIVE_FAILURES: 3,
      BREAKER_HALF_OPEN_AFTER_MS: 30_000,
      EXACTLY_ONCE: false,
    });
    expect(retryPolicyOf(config)).toEqual({ maxAttempts: 4, strategy: 'exponential', baseDelayMs: 1_000, maxDelayMs: 30_000, windowMs: 3_600_000, jitter: 0.1 });
  });

  it('reads per-intent thresholds', () => {
    const config = loadConfig(FulfillmentEnv, { CONFIDENCE_THRESHOLDS: 'book_flight=0.9,greeting=0.5' });
    expect(thresholdsOf(config).byIntent).toEqual(new Map([['book_flight', 0.9], ['greeting', 0.5]]));
  });

  it.each([
    [{ RETRY_MAX_ATTEMPTS: '11' }, 'RETRY_MAX_ATTEMPTS'],
    [{ RETRY_MAX_ATTEMPTS: '0' }, 'RETRY_MAX_ATTEMPTS'],
    [{ RETRY_STRATEGY: 'random' }, 'RETRY_STRATEGY'],
    [{ RETRY_WINDOW_S: '86401' }, 'RETRY_WINDOW_S'],
    [{ RETRY_JITTER: '0.2' }, 'RETRY_JITTER'],
    [{ RETRY_BASE_DELAY_MS: '60000' }, 'RETRY_MAX_DELAY_MS'],
    [{ CONFIDENCE_THRESHOLDS: 'book_flight' }, 'CONFIDENCE_THRESHOLDS'],
    [{ CONFIDENCE_THRESHOLD: '1.5' }, 'CONFIDENCE_THRESHOLD'],
    [{ EXACTLY_ONCE: 'maybe' }, 'EXACTLY_ONCE'],
  ])('stops the start with one line naming the variable for %j', (env, variable) => {
    expect(() => loadConfig(FulfillmentEnv, env)).toThrow(ConfigError);
    expect(() => loadConfig(FulfillmentEnv, env)).toThrow(new RegExp(`^${variable}: `));
  });
});
