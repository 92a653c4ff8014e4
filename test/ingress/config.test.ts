import { describe, expect, it } from 'vitest';
import { DEFAULT_PATHS } from '../../services/ingress/callback-fields.js';
import { callbackPaths, IngressEnv } from '../../services/ingress/config.js';
import { ConfigError, loadConfig } from '../../shared/config.js';

const base = { COGNIGY_WEBHOOK_SECRETS: 's' };

describe('ingress configuration', () => {
  it('reads the field paths from CALLBACK_PATHS_<FIELD>, the defaults elsewhere', () => {
    const config = loadConfig(IngressEnv, { ...base, CALLBACK_PATHS_CONFIDENCE: 'nlu.score, confidence', CALLBACK_PATHS_USER_ID: 'user.id' });
    const paths = callbackPaths(config);
    expect(paths.confidence).toEqual(['nlu.score', 'confidence']);
    expect(paths.userId).toEqual(['user.id']);
    expect(paths.intent).toEqual(DEFAULT_PATHS.intent);
  });

  it('stops on a malformed path list with one line naming the variable', () => {
    expect(() => loadConfig(IngressEnv, { ...base, CALLBACK_PATHS_CONFIDENCE: 'context..confidence' })).toThrow(ConfigError);
    expect(() => loadConfig(IngressEnv, { ...base, CALLBACK_PATHS_CONFIDENCE: 'context..confidence' })).toThrow(
      /^CALLBACK_PATHS_CONFIDENCE: expected a comma list of dotted JSON paths/,
    );
  });

  it('answers 202 accepted by default; the status word and 200 are configurable, other codes refused', () => {
    expect(loadConfig(IngressEnv, base)).toMatchObject({ INGRESS_ACCEPTED_STATUS: 'accepted', INGRESS_ACCEPTED_CODE: 202 });
    expect(loadConfig(IngressEnv, { ...base, INGRESS_ACCEPTED_STATUS: 'success', INGRESS_ACCEPTED_CODE: '200' })).toMatchObject({
      INGRESS_ACCEPTED_STATUS: 'success',
      INGRESS_ACCEPTED_CODE: 200,
    });
    expect(() => loadConfig(IngressEnv, { ...base, INGRESS_ACCEPTED_CODE: '201' })).toThrow(/^INGRESS_ACCEPTED_CODE: expected 200 or 202/);
  });
});
