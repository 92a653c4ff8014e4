import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { startLocalInfra, type LocalInfra } from '../tools/infra/launcher.js';
import { waitFor } from '../tools/infra/process.js';

export { freePort } from '../tools/infra/process.js';

/** The broker and registry from KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else started for this run. */
export function benchInfra(): Promise<LocalInfra> {
  return startLocalInfra({ log: (line) => process.stderr.write(`${line}\n`) });
}

/** Runs a TypeScript entry point in its own node process and waits until its port answers. */
export async function startProcess(entry: string, env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).status < 500;
      } catch {
        return false; // not listening yet
      }
    },
    {
      what: `${entry} to answer on port ${port}`,
      timeoutMs: 60_000,
      intervalMs: 200,
      failFast: () => (child.exitCode !== null ? `exited with ${child.exitCode}` : undefined),
    },
  );
  return child;
}

export function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export type LoadResult = autocannon.Result;

export function load(opts: autocannon.Options): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (error, result) => (error ? reject(error) : resolve(result)));
  });
}
