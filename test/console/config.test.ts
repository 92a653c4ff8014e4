import { describe, expect, it } from 'vitest';
import { ConsoleEnv } from '../../services/console/config.js';
import { loadConfig } from '../../shared/config.js';
import { configError } from '../support/configurations.js';

describe('the console configuration', () => {
  it('stays off without a token, naming the variable and how to make one', () => {
    expect(configError(() => loadConfig(ConsoleEnv, {}))).toMatch(/CONSOLE_TOKEN.*not set: the console stays off without a token/);
    expect(configError(() => loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'short' }))).toMatch(/CONSOLE_TOKEN.*at least 16 characters/);
  });

  it('refuses a metrics address with credentials, which the flow view would show', () => {
    const message = configError(() => loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch', CONSOLE_METRICS_URLS: 'http://scraper:s3cret@ingress:8081' }));
    expect(message).toMatch(/CONSOLE_METRICS_URLS.*without credentials/);
    expect(message).not.toContain('s3cret');
    expect(configError(() => loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch', CONSOLE_METRICS_URLS: 'ingress:8081' }))).toMatch(/CONSOLE_METRICS_URLS.*not an http/);
    expect(configError(() => loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch', CONSOLE_METRICS_URLS: 'http//x' }))).toMatch(/CONSOLE_METRICS_URLS.*not a URL/);
  });

  it('is read-only on port 8084 unless told otherwise', () => {
    const config = loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch' });
    expect(config).toMatchObject({ CONSOLE_PORT: 8084, CONSOLE_ALLOW_ACTIONS: false });
    expect(loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch', CONSOLE_ALLOW_ACTIONS: 'true' }).CONSOLE_ALLOW_ACTIONS).toBe(true);
  });
});
