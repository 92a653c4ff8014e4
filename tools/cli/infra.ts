/**
 * `npm run infra:up` / `npm run infra:down`: a long-lived local Kafka + schema registry for development.
 *
 * `up` prints exactly two lines on stdout, ready for `export`/`.env` use (progress goes to stderr):
 *   KAFKA_BROKERS=127.0.0.1:NNNN
 *   SCHEMA_REGISTRY_URL=http://127.0.0.1:NNNN/apis/ccompat/v7
 * Running `up` again while the services are alive prints the same lines without starting anything.
 * `fetch` only downloads the jars into the cache (a CI prefetch step; a no-op when already cached).
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureApicurio } from '../infra/apicurio.js';
import { infraCacheDir } from '../infra/cache.js';
import { ensureKafkaJars } from '../infra/kafka-jars.js';
import { type DetachedInfra, detachedInfraAlive, startDetachedInfra, stopDetachedInfra } from '../infra/launcher.js';

const stateFile = (): string => join(infraCacheDir(), 'state.json');

function readState(): DetachedInfra | undefined {
  if (!existsSync(stateFile())) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as DetachedInfra;
  } catch {
    return undefined; // unreadable: treat as nothing running
  }
}

function printEnv(state: DetachedInfra): void {
  process.stdout.write(`KAFKA_BROKERS=${state.kafkaBrokers}\nSCHEMA_REGISTRY_URL=${state.schemaRegistryUrl}\n`);
}

async function up(): Promise<void> {
  const previous = readState();
  if (previous && (await detachedInfraAlive(previous))) {
    printEnv(previous);
    return;
  }
  if (previous) {
    // Left over from a crash or reboot: kill what may remain and remove its temp folders.
    await stopDetachedInfra(previous);
    await rm(stateFile(), { force: true });
  }
  const state = await startDetachedInfra({ log: (line) => process.stderr.write(`[infra] ${line}\n`) });
  await writeFile(stateFile(), `${JSON.stringify(state, null, 2)}\n`);
  printEnv(state);
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    process.stderr.write('[infra] nothing to stop\n');
    return;
  }
  await stopDetachedInfra(state);
  await rm(stateFile(), { force: true });
  process.stderr.write(`[infra] stopped (${state.runtime})\n`);
}

async function fetchJars(): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`[infra] ${line}\n`);
  };
  const started = Date.now();
  const [kafka, registry] = await Promise.all([ensureKafkaJars(log), ensureApicurio(log)]);
  log(`cached in ${Date.now() - started} ms: ${kafka}, ${registry}`);
}

const command = process.argv[2];
const commands: Record<string, () => Promise<void>> = { up, down, fetch: fetchJars };
const action = command === undefined ? undefined : commands[command];
if (!action) {
  process.stderr.write('usage: tsx tools/cli/infra.ts up|down|fetch\n');
  process.exit(2);
}
try {
  await action();
  // Explicit exit: client libraries (kafkajs, dockerode) may keep sockets that would hold the process open.
  process.exit(0);
} catch (err) {
  process.stderr.write(`[infra] ${command} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
