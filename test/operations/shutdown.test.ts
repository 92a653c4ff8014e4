import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { repoRoot } from '../../tools/infra/cache.js';
import { waitFor } from '../support/wait.js';

const fixture = fileURLToPath(new URL('./fixtures/slow-shutdown.ts', import.meta.url));

it('finishes a graceful stop and exits 0 when SIGTERM and SIGINT arrive again during the shutdown', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const messages = () =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { msg: string }).msg);

  await waitFor(() => messages().includes('ready'), { what: 'the process to start' });
  child.kill('SIGTERM');
  await waitFor(() => messages().includes('shutting down'), { what: 'the shutdown to begin' });
  child.kill('SIGTERM');
  child.kill('SIGINT');

  const [code, signal] = await exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(messages()).toContain('stop signal received again; still shutting down');
  expect(messages().at(-1)).toBe('stopped');
}, 30_000);

/**
 * `npm start` and `npm run start:<service>` under a terminal or a supervisor: npm passes SIGINT and
 * SIGTERM on to the script's shell, and Debian's /bin/sh (dash) dies of them at once, leaving the
 * service running on its own while npm exits. Each script execs its node process, so the signal
 * reaches the service and npm returns only once the service has stopped.
 */
const scripts = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const serviceScripts = Object.keys(scripts).filter((name) => name === 'start' || name.startsWith('start:'));

it.concurrent.each(serviceScripts.flatMap((name) => (['SIGTERM', 'SIGINT'] as const).map((signal) => [name, signal] as const)))(
  '`npm run %s` returns after the service stopped when it gets %s',
  async (name, signal) => {
    // The script as written, with the build step left out and the service swapped for the fixture.
    const script = scripts[name]!.replace('npm run build', 'true').replace(/node dist\/\S+\.js/, `node --import tsx ${fixture}`);
    const dir = join(repoRoot(), '.cache', 'test-npm-scripts', `${name.replace(':', '-')}-${signal}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'npm-script-check', private: true, scripts: { [name]: script } }));
    const npm = spawn('npm', ['run', '--silent', name], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

    await waitFor(() => output.includes('"msg":"ready"'), { what: `${name} to start` });
    npm.kill(signal);
    const [code, exitSignal] = await exited;
    expect({ code, signal: exitSignal, stoppedFirst: output.includes('"msg":"stopped"') }).toEqual({ code: 0, signal: null, stoppedFirst: true });
  },
  30_000,
);
