/**
 * Small process/network helpers shared by the infrastructure launchers:
 * free ports, polling with a deadline, and JVM child processes that die with their parent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { PrerequisiteError } from '../../shared/config.js';

export type Log = (line: string) => void;

/** Asks the kernel for `count` distinct free TCP ports on 127.0.0.1 (all held open until every one is known). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

export interface WaitOptions {
  /** What is being waited for, used in the timeout error. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Checked before every attempt; a returned string aborts the wait with that message (e.g. "process exited"). */
  failFast?: () => string | undefined;
  /** Extra diagnostics appended to the timeout error (e.g. the tail of a log file). */
  diagnostics?: () => string;
}

/** Polls `check` until it returns true; never relies on fixed sleeps being "long enough". */
export async function waitFor(check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const fatal = opts.failFast?.();
    if (fatal !== undefined) throw new Error(`${opts.what}: ${fatal}${suffix(opts)}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${cause}${suffix(opts)}`);
    }
    await delay(opts.intervalMs ?? 250);
  }
}

function suffix(opts: WaitOptions): string {
  const text = opts.diagnostics?.();
  return text ? `\n${text}` : '';
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

// A JVM whose parent died is re-parented to PID 1, which in containers and micro-VMs may reap late or
// never; its zombie still answers kill(pid, 0) although the process is gone.
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false; // no procfs (macOS) or already gone
  }
}

/** SIGTERM (lets Kafka shut down cleanly and keep its data consistent), then SIGKILL after `graceMs`. */
export async function killPid(pid: number, graceMs = 15_000): Promise<void> {
  if (!signal(pid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await delay(100);
  if (isAlive(pid)) await sigkill(pid);
}

/** SIGKILL, and wait until the process is gone (it gets no chance to clean up). */
export async function sigkill(pid: number): Promise<void> {
  if (!signal(pid, 'SIGKILL')) return;
  const deadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < deadline) await delay(50);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Last lines of a log file, for error messages. */
export function tailFile(path: string, lines = 40): string {
  if (!existsSync(path)) return `(no log at ${path})`;
  const text = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  return `--- last lines of ${path} ---\n${text}`;
}

/** Runs a command to completion; on failure the error carries the command's own output. */
export async function run(command: string, args: string[], cwd: string, onLine?: (line: string) => void): Promise<string> {
  const output: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString();
    output.push(text);
    if (!onLine) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  };
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const text = output.join('');
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${text.trim()}`);
  return text;
}

const PORT_CLASH = /Address already in use|in use by another process/;

/**
 * For `WaitOptions.failFast`: undefined while the JVM runs, else why it stopped. A port grabbed by
 * another process between choosing and binding it is named explicitly, so callers can retry (isPortClash).
 */
export function exitReason(java: JavaProcess, logFile: string): string | undefined {
  const status = java.exitStatus();
  if (status === undefined) return undefined;
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  return `java exited (${status})${PORT_CLASH.test(log) ? ': port already in use' : ''}`;
}

export function isPortClash(err: unknown): boolean {
  return err instanceof Error && err.message.includes('port already in use');
}

export const JAVA_HINT =
  'install a JDK 17 or newer (Debian/Ubuntu: apt-get install default-jdk-headless; macOS: brew install openjdk@17), ' +
  'or set KAFKA_BROKERS and SCHEMA_REGISTRY_URL to running services';
export const MAVEN_HINT =
  'install Maven (Debian/Ubuntu: apt-get install maven; macOS: brew install maven), needed once to fetch the Kafka ' +
  'and schema registry jars, or set KAFKA_BROKERS and SCHEMA_REGISTRY_URL to running services';

/** The oldest Java the local broker and registry run on. */
const MIN_JAVA = 17;

/** Throws a PrerequisiteError (one line: what is missing and what to install) unless `command` runs. */
export function requireCommand(command: 'java' | 'mvn', hint: string): void {
  const probe = spawnSync(command, ['-version'], { encoding: 'utf8' });
  if (probe.error) throw new PrerequisiteError(`${command} not found on PATH: ${hint}`);
  if (command !== 'java') return;
  // `java -version` prints e.g. `openjdk version "17.0.13" 2024-10-15` (or "1.8.0_402" before 9) on stderr.
  const version = /version "(?:1\.)?(\d+)/.exec(`${probe.stderr}${probe.stdout}`)?.[1];
  if (version !== undefined && Number(version) < MIN_JAVA) {
    throw new PrerequisiteError(`java on PATH is Java ${version}, the local Kafka broker needs ${MIN_JAVA} or newer: ${hint}`);
  }
}

export interface JavaProcess {
  readonly pid: number;
  /** Set once the JVM has exited (exit code or signal name). */
  exitStatus(): string | undefined;
  /** Graceful stop; resolves when the JVM is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crashed machine or the OOM killer would; resolves when the JVM is gone. */
  kill(): Promise<void>;
}

export interface SpawnJavaOptions {
  cwd: string;
  /** stdout and stderr of the JVM are appended here. */
  logFile: string;
  /**
   * Detached JVMs outlive this process (used by `infra:up`). Attached ones are tied to this
   * process by a watchdog, so a crashed or SIGKILLed test run does not leave brokers behind.
   */
  detached?: boolean;
  /** Removed by the watchdog after it had to kill the JVM because this process died. */
  cleanupDirs?: string[];
}

export function spawnJava(args: string[], opts: SpawnJavaOptions): JavaProcess {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn('java', args, {
    cwd: opts.cwd,
    stdio: ['ignore', fd, fd],
    // Always a process group of its own: Ctrl-C in a terminal signals the whole foreground group, and
    // the broker must outlive the services that are still draining into it (npm start stops them first).
    detached: true,
  });
  closeSync(fd);
  let status: string | undefined;
  child.once('exit', (code, sig) => {
    status = sig ?? `exit code ${code}`;
  });
  child.once('error', (err) => {
    status = err.message;
  });
  if (child.pid === undefined) throw new Error(`java could not be started: ${JAVA_HINT}`);
  const pid = child.pid;
  if (opts.detached) child.unref();
  else startWatchdog(pid, opts.cleanupDirs ?? []);
  return {
    pid,
    exitStatus: () => status,
    stop: async (graceMs) => {
      if (status === undefined) await killPid(pid, graceMs);
    },
    kill: async () => {
      if (status === undefined) await sigkill(pid);
    },
  };
}

// Runs as a separate, detached node process: Ctrl-C on the terminal and SIGKILL of the parent do not
// reach it, so it can still kill the JVM and remove its temp folder once the parent is gone.
const WATCHDOG = `
const fs = require('node:fs');
const [parent, child, ...dirs] = process.argv.slice(1);
const zombie = (pid) => {
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch { return false; }
};
const alive = (pid) => { try { process.kill(Number(pid), 0); } catch (e) { return e.code === 'EPERM'; } return !zombie(pid); };
const poll = setInterval(() => {
  if (!alive(child)) process.exit(0);
  if (alive(parent)) return;
  clearInterval(poll);
  try { process.kill(Number(child), 'SIGTERM'); } catch {}
  const deadline = Date.now() + 15000;
  setInterval(() => {
    if (alive(child) && Date.now() < deadline) return;
    if (alive(child)) try { process.kill(Number(child), 'SIGKILL'); } catch {}
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 200);
}, 500);
`;

function startWatchdog(childPid: number, cleanupDirs: string[]): void {
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), String(childPid), ...cleanupDirs], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
}
