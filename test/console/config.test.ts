import { describe, expect, it } from 'vitest';
import { ConsoleEnv } from '../../services/console/config.js';
import { loadConfig } from '../../shared/config.js';
import { configError } from '../support/configurations.js';

describe('the console configuration', () => {
  it('stays off without a token, naming the variable and how to make one', () => {
    expect(configError(() => loadConfig(ConsoleEnv, {}))).toMatch(/CONSOLE_TOKEN.*not set: the console stays off without a token/);
    expect(configError(() => loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'short' }))).toMatch(/CONSOLE_TOKEN.*at least 16 characters/);
  });

  it('is read-only on port 8084 unless told otherwise', () => {
    const config = loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch' });
    expect(config).toMatchObject({ CONSOLE_PORT: 8084, CONSOLE_ALLOW_ACTIONS: false });
    expect(loadConfig(ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch', CONSOLE_ALLOW_ACTIONS: 'true' }).CONSOLE_ALLOW_ACTIONS).toBe(true);
  });
});
