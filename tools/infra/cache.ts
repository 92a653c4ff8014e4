/**
 * On-disk cache for the downloaded infrastructure (Kafka jars, Apicurio Registry) under
 * `<repo>/.cache/infra/`. Maven's own ~/.m2 keeps the downloads, this keeps the ready-to-run layout.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lock } from 'proper-lockfile';
import { type Log, MAVEN_HINT, requireCommand, run } from './process.js';

/** The folder holding package.json; works from the sources (tsx) and from dist/ alike. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export function infraCacheDir(): string {
  const dir = join(repoRoot(), '.cache', 'infra');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const COMPLETE_MARKER = '.complete';

/** Populations under way in this process, by target folder: concurrent callers share one. */
const populating = new Map<string, Promise<string>>();

/**
 * Returns `<cache>/<name>`, populating it first if needed, exactly once however many callers ask at the
 * same time: callers in this process share one population, and other processes (two test runs,
 * `infra:up` during a test run) wait on a lock file beside the folder, then find it complete. Population
 * happens in a private temp folder that is renamed into place only when complete, so a crash never
 * leaves a half-written folder behind; a lock left by a dead process goes stale and is taken over.
 */
export function ensureCached(name: string, populate: (dir: string) => Promise<void>): Promise<string> {
  const target = join(infraCacheDir(), name);
  if (isComplete(target)) return Promise.resolve(target);
  let pending = populating.get(target);
  if (pending === undefined) {
    pending = populateLocked(target, populate).finally(() => populating.delete(target));
    populating.set(target, pending);
  }
  return pending;
}

/** How long another process may hold the population lock without refreshing it before it counts as dead. */
const LOCK_STALE_MS = 30_000;
/** How long to wait for another process's population (a first Maven download can take minutes). */
const LOCK_WAIT_MS = 30 * 60_000;

async function populateLocked(target: string, populate: (dir: string) => Promise<void>): Promise<string> {
  const release = await lock(target, {
    realpath: false,
    lockfilePath: `${target}.lock`,
    stale: LOCK_STALE_MS,
    retries: { retries: Math.ceil(LOCK_WAIT_MS / 1_000), factor: 1, minTimeout: 1_000, maxTimeout: 1_000 },
    // A lock taken over while held (this process stalled past LOCK_STALE_MS) costs at most a second
    // population; the rename below settles which copy stays.
    onCompromised: () => {},
  });
  try {
    // The lock holder before us may have populated it.
    if (isComplete(target)) return target;
    const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(staging, { recursive: true });
    try {
      await populate(staging);
      await writeFile(join(staging, COMPLETE_MARKER), new Date().toISOString());
      // A folder without the marker can only be left by a manual copy; replace it.
      if (existsSync(target) && !isComplete(target)) await rm(target, { recursive: true, force: true });
      try {
        await rename(staging, target);
      } catch (err) {
        if (!isComplete(target)) throw err;
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return target;
  } finally {
    await release();
  }
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, COMPLETE_MARKER));
}

/**
 * Runs Maven in batch mode from `cwd`. With `log`, downloads are reported every few seconds (files and
 * megabytes so far, the file under way), since a first fetch can take minutes on a slow link.
 */
export async function runMaven(args: string[], cwd: string, log?: Log): Promise<void> {
  requireCommand('mvn', MAVEN_HINT);
  if (!log) {
    await run('mvn', ['-B', '-q', '-Dstyle.color=never', ...args], cwd);
    return;
  }
  const progress = new DownloadProgress();
  const started = Date.now();
  const timer = setInterval(() => {
    const line = progress.report();
    if (line) log(`  ${line} (${Math.round((Date.now() - started) / 1_000)} s)`);
  }, PROGRESS_INTERVAL_MS);
  try {
    await run('mvn', ['-B', '-Dstyle.color=never', ...args], cwd, (line) => progress.read(line));
  } finally {
    clearInterval(timer);
  }
  log(`  downloaded ${progress.summary()} in ${Math.round((Date.now() - started) / 1_000)} s`);
}

const PROGRESS_INTERVAL_MS = 3_000;
const UNIT_BYTES: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };

/** Reads Maven's transfer lines: `Downloading from central: <url>` and `Downloaded from central: <url> (1.2 MB at 3 MB/s)`. */
export class DownloadProgress {
  private files = 0;
  private bytes = 0;
  private current: string | undefined;
  private reported = '';

  read(line: string): void {
    const started = /Downloading from [^:]+: (\S+)/.exec(line);
    if (started?.[1]) {
      this.current = started[1].slice(started[1].lastIndexOf('/') + 1);
      return;
    }
    const done = /Downloaded from [^:]+: \S+ \(([\d.,]+) (B|kB|KB|MB|GB)/.exec(line);
    if (done?.[1] && done[2]) {
      this.files += 1;
      this.bytes += Number(done[1].replace(/,/g, '')) * (UNIT_BYTES[done[2]] ?? 1);
      this.current = undefined;
    }
  }

  summary(): string {
    return `${this.files} file${this.files === 1 ? '' : 's'}, ${(this.bytes / 1e6).toFixed(1)} MB`;
  }

  /** A progress line when something changed or a download is under way; undefined otherwise. */
  report(): string | undefined {
    if (this.files === 0 && !this.current) return undefined;
    const now = this.current ? `${this.summary()} so far, downloading ${this.current}` : `${this.summary()} so far`;
    if (now === this.reported && !this.current) return undefined;
    this.reported = now;
    return now;
  }
}
