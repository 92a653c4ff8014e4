import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureCached, infraCacheDir, repoRoot } from '../../tools/infra/cache.js';

const run = promisify(execFile);
const created: string[] = [];

afterEach(async () => {
  for (const name of created.splice(0)) {
    await rm(join(infraCacheDir(), name), { recursive: true, force: true });
    await rm(join(infraCacheDir(), `${name}.lock`), { recursive: true, force: true });
    await rm(join(infraCacheDir(), `${name}.populations`), { force: true });
  }
});

function entryName(): string {
  const name = `cache-test.${randomBytes(4).toString('hex')}`;
  created.push(name);
  return name;
}

/** What is left beside the entry: staging folders and the lock. */
const leftovers = (name: string): string[] => readdirSync(infraCacheDir()).filter((e) => e.startsWith(`${name}.tmp-`) || e === `${name}.lock`);

describe('infra cache', () => {
  it('populates once for concurrent callers in one process, and never again once complete', async () => {
    const name = entryName();
    let populations = 0;
    const populate = async (dir: string): Promise<void> => {
      populations += 1;
      await writeFile(join(dir, 'payload'), `written by ${populations}`);
    };

    const dirs = await Promise.all([ensureCached(name, populate), ensureCached(name, populate), ensureCached(name, populate)]);

    expect(populations).toBe(1);
    expect(new Set(dirs)).toEqual(new Set([join(infraCacheDir(), name)]));
    expect(readFileSync(join(dirs[0] as string, 'payload'), 'utf8')).toBe('written by 1');
    expect(leftovers(name)).toEqual([]);
    await ensureCached(name, populate);
    expect(populations).toBe(1);
  });

  it('populates once for concurrent processes: the others wait for the lock and find it complete', async () => {
    const name = entryName();
    const populationLog = join(infraCacheDir(), `${name}.populations`);
    const script = join(repoRoot(), 'test', 'fixtures', 'infra', 'populate-cache.ts');
    const tsx = join(repoRoot(), 'node_modules', '.bin', 'tsx');

    const outputs = await Promise.all(
      [1, 2, 3].map(async () => (await run(tsx, [script, name, populationLog, '1500'], { cwd: repoRoot() })).stdout),
    );

    expect(readFileSync(populationLog, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(new Set(outputs)).toEqual(new Set([join(infraCacheDir(), name)]));
    expect(leftovers(name)).toEqual([]);
  });

  it('takes over a lock left behind by a process that died while populating', async () => {
    const name = entryName();
    const lockDir = join(infraCacheDir(), `${name}.lock`);
    mkdirSync(lockDir);
    const longAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(lockDir, longAgo, longAgo);

    const dir = await ensureCached(name, (staging) => writeFile(join(staging, 'payload'), 'ok'));

    expect(readFileSync(join(dir, 'payload'), 'utf8')).toBe('ok');
    expect(leftovers(name)).toEqual([]);
  });

  it('leaves nothing behind when population fails, so the next call populates again', async () => {
    const name = entryName();
    await expect(ensureCached(name, () => Promise.reject(new Error('download refused')))).rejects.toThrow('download refused');
    expect(existsSync(join(infraCacheDir(), name))).toBe(false);
    expect(leftovers(name)).toEqual([]);

    const dir = await ensureCached(name, (staging) => writeFile(join(staging, 'payload'), 'second try'));
    expect(readFileSync(join(dir, 'payload'), 'utf8')).toBe('second try');
  });
});
