/**
 * `npm start` as a newcomer sees it: in a terminal (a pseudo-terminal from util-linux's `script`),
 * from nothing (its own Kafka broker and registry, not the test run's), through one callback, to
 * Ctrl-C. A normal start prints no error-level line, and every log line names its service.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../tools/infra/cache.js';

const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;
const START_TIMEOUT_MS = 240_000;
const ARTIFACTS = join(repoRoot(), '.cache', 'test-artifacts');
const SERVICES = ['pipeline', 'ingress', 'fulfillment', 'ack-aggregator', 'session-writer', 'cognigy-simulator', 'console'];

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

class Terminal {
  private text = '';
  readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', resolve));
  }

  /** What the terminal showed, colours removed, one entry per line. */
  lines(): string[] {
    return this.text.replace(ANSI, '').split(/\r?\n/);
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text.replace(ANSI, ''));
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the terminal showed:\n${this.text.replace(ANSI, '')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Ctrl-C typed into the terminal: the line discipline turns it into SIGINT for the foreground process. */
  interrupt(): void {
    this.child.stdin?.write('\x03');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

describe.skipIf(!hasScript)('npm start in a terminal', () => {
  let terminal: Terminal | undefined;
  afterAll(() => terminal?.kill());

  it(
    'starts Kafka, the registry and every service without an error-level line, each line named by its service',
    async () => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        // A normal start: its own broker, just formatted, whose group coordinator is still loading.
        KAFKA_BROKERS: undefined,
        SCHEMA_REGISTRY_URL: undefined,
        LOG_FORMAT: 'auto',
        // info rather than npm start's default warn, so that the routine start-up retries are shown and checked too.
        LOG_LEVEL: 'info',
        INGRESS_PORT: '0',
        SIMULATOR_PORT: '0',
        FULFILLMENT_PORT: '0',
        ACK_AGGREGATOR_PORT: '0',
        SESSION_WRITER_PORT: '0',
        SUMMARY_INTERVAL_MS: '500',
        SHELL: '/bin/sh',
      };
      // `script` runs the command through $SHELL; exec, so that Ctrl-C reaches npm start's entry and
      // not a shell waiting for it (dash, Debian's /bin/sh, dies of the SIGINT: exit 130).
      const command = `exec ${process.execPath} --import tsx ${join('tools', 'cli', 'start.ts')}`;
      terminal = new Terminal(
        spawn('script', ['--quiet', '--return', '--flush', '--command', command, '/dev/null'], {
          cwd: repoRoot(),
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      );

      const ingress = await terminal.waitFor(/ingress +(http:\/\/127\.0\.0\.1:\d+) +\(POST/, START_TIMEOUT_MS);
      const body = JSON.stringify({
        sessionId: 'start-test-session',
        message: 'Check order status',
        eventType: 'flow.execution',
        context: { intent: 'order_tracking', confidence: 0.94 },
      });
      const answer = await fetch(`${ingress[1]}/simulate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(answer.status).toBe(202);
      // The console runs too, with the token printed for this run; without it the console refuses.
      const consoleLine = await terminal.waitFor(/console +(http:\/\/127\.0\.0\.1:\d+)\/ +\(token made up for this run: ([0-9a-f]{48}); read-only/, 10_000);
      expect((await fetch(`${consoleLine[1]}/api/session`)).status).toBe(401);
      expect((await fetch(`${consoleLine[1]}/api/session`, { headers: { authorization: `Bearer ${consoleLine[2]}` } })).status).toBe(200);
      await terminal.waitFor(/received 1 \| fulfilled 1 .*\| acknowledged 1 /, 60_000);

      terminal.interrupt();
      await terminal.waitFor(/stopping \.\.\./, 10_000);
      const exitCode = await terminal.exited;

      const lines = terminal.lines();
      // Kept as a test artifact: what a newcomer's terminal showed.
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(join(ARTIFACTS, 'npm-start-terminal.txt'), lines.join('\n'));
      expect(exitCode, 'exit code after Ctrl-C').toBe(0);
      const logLines = lines.filter((line) => /^\S+ +\| \d\d:\d\d:\d\d\.\d{3} /.test(line));
      expect(logLines.length, 'info lines from the services').toBeGreaterThan(0);
      expect(logLines.filter((line) => !SERVICES.includes(line.split(' ')[0] ?? ''))).toEqual([]);
      expect(lines.filter((line) => /\b(ERROR|FATAL)\b/.test(line))).toEqual([]);
      expect(lines.filter((line) => line.trimStart().startsWith('{"level"')), 'JSON lines in a terminal').toEqual([]);
    },
    START_TIMEOUT_MS + 120_000,
  );
});
