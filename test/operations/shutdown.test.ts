import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
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
