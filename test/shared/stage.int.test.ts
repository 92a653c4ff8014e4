import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createKafka, createIdempotentProducer, type Producer } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import { topicNames } from '../../shared/topics.js';
import { PoisonedEnv, startPoisonedStage } from '../fixtures/stages/poisoned-stage.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName, waitFor } from '../support/wait.js';

const mainScript = fileURLToPath(new URL('../fixtures/stages/poisoned-main.ts', import.meta.url));

describe('a consumer stage whose consumer crashes without restart', () => {
  const infra = testInfra();
  const kafka = createKafka({ brokers: infra.kafkaBrokers.split(','), clientId: 'stage-test' });
  let producer: Producer;

  beforeAll(async () => {
    producer = createIdempotentProducer(kafka);
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  function env(prefix: string): Record<string, string> {
    return {
      KAFKA_BROKERS: infra.kafkaBrokers,
      SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
      TOPIC_PREFIX: prefix,
      TOPIC_PARTITIONS: '1',
      STAGE_GROUP_ID: `${prefix}poisoned`,
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '10000',
    };
  }

  it('reports the crash, answers 503 on /healthz and is no longer ready', async () => {
    const prefix = uniqueName('stage-crash.');
    const fatal: unknown[] = [];
    const stage = await startPoisonedStage(loadConfig(PoisonedEnv, env(prefix)), {
      logger: createLogger('poisoned', 'silent'),
      onFatal: (error) => fatal.push(error),
    });
    try {
      await waitFor(() => stage.ready(), { what: 'the stage to join its group' });
      expect((await fetch(`${stage.url}/healthz`)).status).toBe(200);
      await producer.send({ topic: topicNames(prefix).results, messages: [{ key: 's', value: 'poison' }] });

      await waitFor(() => fatal.length === 1, { what: 'the crash to be reported' });
      expect((fatal[0] as Error).message).toContain('a record this stage cannot pass');
      expect(stage.live()).toBe(false);
      expect(stage.ready()).toBe(false);
      const health = await fetch(`${stage.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: 'stopped' });
    } finally {
      await stage.stop();
    }
  });

  it('run as a service, stops the process with exit code 1 so that a supervisor restarts it', async () => {
    const prefix = uniqueName('stage-exit.');
    const child = spawn(process.execPath, ['--import', 'tsx', mainScript], { env: { ...process.env, ...env(prefix) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => output.includes('joined the consumer group'), { what: 'the stage to join its group', timeoutMs: 60_000 });
      await producer.send({ topic: topicNames(prefix).results, messages: [{ key: 's', value: 'poison' }] });
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual({ code: 1, signal: null });
      expect(output).toContain('consumer crashed without restart; stopping');
      expect(output).toContain('poisoned stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
