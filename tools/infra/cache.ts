/**
 * On-disk cache for the downloaded infrastructure (Kafka jars, Apicurio Registry) under
 * `<repo>/.cache/infra/`. Maven's own ~/.m2 keeps the downloads, this keeps the ready-to-run layout.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireCommand, run } from './process.js';

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

/**
 * Returns `<cache>/<name>`, populating it first if needed. Population happens in a private temp
 * folder that is renamed into place only when complete, so concurrent first uses (two test runs,
 * `infra:up` during a test run) never see a half-written folder; the loser of the race discards its copy.
 */
export async function ensureCached(name: string, populate: (dir: string) => Promise<void>): Promise<string> {
  const target = join(infraCacheDir(), name);
  if (isComplete(target)) return target;

  const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(staging, { recursive: true });
  try {
    await populate(staging);
    await writeFile(join(staging, COMPLETE_MARKER), new Date().toISOString());
    // A folder without the marker can only be left by a manual copy or a crash mid-rename; replace it.
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
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, COMPLETE_MARKER));
}

/** Runs Maven in batch mode from `cwd`. */
export async function runMaven(args: string[], cwd: string): Promise<void> {
  requireCommand('mvn', 'install Maven and a JDK 17+, or set KAFKA_BROKERS and SCHEMA_REGISTRY_URL to existing services');
  await run('mvn', ['-B', '-q', '-Dstyle.color=never', ...args], cwd);
}
