import { describe, expect, it } from 'vitest';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { ConfigError, loadConfig } from '../../shared/config.js';

const base = { COGNIGY_CLIENT_ID: 'id', COGNIGY_CLIENT_SECRET: 'secret' };

describe('ack-aggregator configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig(AckAggregatorEnv, base);
    expect(config).toMatchObject({
      ACK_GROUP_ID: 'cognigy-ack-aggregator',
      ACK_MAX_BATCH: 500,
      ACK_WINDOW_MS: 5_000,
      COGNIGY_AUTH: 'oauth2',
      COGNIGY_OAUTH_SCOPE: 'webhook:write',
      COGNIGY_TOKEN_PATH: '/api/v1/auth/oauth/token',
      COGNIGY_ACK_PATH: '/api/v1/webhooks/batch-acknowledge',
      COGNIGY_TOKEN_REFRESH_BEFORE_MS: 30_000,
    });
  });

  it('refuses batches larger than Cognigy accepts, naming the variable', () => {
    expect(() => loadConfig(AckAggregatorEnv, { ...base, ACK_MAX_BATCH: '501' })).toThrow(/ACK_MAX_BATCH/);
  });

  it('needs client credentials for oauth2 and a key for api-key', () => {
    expect(() => loadConfig(AckAggregatorEnv, {})).toThrow(/COGNIGY_CLIENT_ID/);
    expect(() => loadConfig(AckAggregatorEnv, { COGNIGY_AUTH: 'api-key' })).toThrow(/COGNIGY_API_KEY/);
    expect(loadConfig(AckAggregatorEnv, { COGNIGY_AUTH: 'api-key', COGNIGY_API_KEY: 'k' }).COGNIGY_AUTH).toBe('api-key');
    expect(() => loadConfig(AckAggregatorEnv, { ...base, COGNIGY_AUTH: 'basic' })).toThrow(ConfigError);
  });

  it('takes other endpoint paths and base URL, without a trailing slash', () => {
    const config = loadConfig(AckAggregatorEnv, {
      ...base,
      COGNIGY_BASE_URL: 'https://api-trial.cognigy.ai/',
      COGNIGY_ACK_PATH: '/new/v2/acks',
    });
    expect(config.COGNIGY_BASE_URL).toBe('https://api-trial.cognigy.ai');
    expect(config.COGNIGY_ACK_PATH).toBe('/new/v2/acks');
    expect(() => loadConfig(AckAggregatorEnv, { ...base, COGNIGY_ACK_PATH: 'relative' })).toThrow(/COGNIGY_ACK_PATH/);
  });
});
