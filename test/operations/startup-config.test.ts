import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { StartEnv } from '../../tools/cli/config.js';
import { configError, configurations } from '../support/configurations.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('topic settings the broker would refuse', () => {
  it.each(configurations)('stop the %s at configuration, in one line naming the variable', (_name, schema, minimal) => {
    expect(() => loadConfig(schema, minimal)).not.toThrow();
    const message = configError(() => loadConfig(schema, { ...minimal, TOPIC_REPLICATION_FACTOR: '2', TOPIC_MIN_INSYNC_REPLICAS: '3' }));
    expect(message).toBe('TOPIC_MIN_INSYNC_REPLICAS: expected at most TOPIC_REPLICATION_FACTOR (2), got 3');
    expect(() => loadConfig(schema, { ...minimal, TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '3' })).not.toThrow();
    expect(configError(() => loadConfig(schema, { ...minimal, TOPIC_MIN_INSYNC_REPLICAS: 'two' }))).toBe(
      'TOPIC_MIN_INSYNC_REPLICAS: expected an integer from 1 to 32',
    );
  });

  it('end a service process with exit code 2 and one line, before it connects to anything', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'services/fulfillment/main.ts'], {
      cwd: repo,
      env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', TOPIC_REPLICATION_FACTOR: '1', TOPIC_MIN_INSYNC_REPLICAS: '2' },
      timeout: 20_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure.code).toBe(2);
    expect(failure.stderr).toBe('configuration error: TOPIC_MIN_INSYNC_REPLICAS: expected at most TOPIC_REPLICATION_FACTOR (1), got 2\n');
  }, 30_000);
});

describe("npm start's own settings", () => {
  it('default to the simulator on 8090, a summary every 5 s and a Docker probe', () => {
    expect(loadConfig(StartEnv, {})).toEqual({ SIMULATOR_PORT: 8090, SUMMARY_INTERVAL_MS: 5_000, LOG_LEVEL: 'warn', LOCAL_INFRA: undefined });
    expect(loadConfig(StartEnv, { LOCAL_INFRA: ' jars ', SUMMARY_INTERVAL_MS: '250' })).toMatchObject({ LOCAL_INFRA: 'jars', SUMMARY_INTERVAL_MS: 250 });
    expect(loadConfig(StartEnv, { LOCAL_INFRA: '' }).LOCAL_INFRA).toBeUndefined();
  });

  it.each([
    ['SUMMARY_INTERVAL_MS', 'abc', 'SUMMARY_INTERVAL_MS: expected an integer from 100 to 3600000'],
    ['SUMMARY_INTERVAL_MS', '0', 'SUMMARY_INTERVAL_MS: expected an integer from 100 to 3600000'],
    ['SIMULATOR_PORT', '70000', 'SIMULATOR_PORT: expected an integer from 0 to 65535'],
    ['SIMULATOR_PORT', 'eighty', 'SIMULATOR_PORT: expected an integer from 0 to 65535'],
    ['LOCAL_INFRA', 'docker', 'LOCAL_INFRA: expected jars or testcontainers'],
  ])('refuse %s=%s in one line', (variable, value, message) => {
    expect(configError(() => loadConfig(StartEnv, { [variable]: value }))).toBe(message);
  });

  it('stop npm start with exit code 2 and one line before Kafka is started', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'tools/cli/start.ts'], {
      cwd: repo,
      env: { ...process.env, SUMMARY_INTERVAL_MS: 'abc' },
      timeout: 20_000,
    }).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure.code).toBe(2);
    expect(failure.stdout).toBe('');
    expect(failure.stderr).toBe('configuration error: SUMMARY_INTERVAL_MS: expected an integer from 100 to 3600000\n');
  }, 30_000);
});
