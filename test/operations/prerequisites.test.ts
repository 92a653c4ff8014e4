/**
 * What a machine without the local broker's tools sees: one line naming what to install, exit 2;
 * and the progress a first fetch reports.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PrerequisiteError } from '../../shared/config.js';
import { DownloadProgress, repoRoot } from '../../tools/infra/cache.js';
import { JAVA_HINT, MAVEN_HINT, requireCommand } from '../../tools/infra/process.js';

const originalPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = originalPath;
});

/** A PATH holding only `node` (and whatever `extra` writes into it). */
function bareBin(extra?: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'bare-bin-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  extra?.(dir);
  return dir;
}

function thrown(check: () => void): Error {
  try {
    check();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('missing tools', () => {
  it('names java and what to install when java is not on PATH', () => {
    process.env.PATH = bareBin();
    const error = thrown(() => requireCommand('java', JAVA_HINT));
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect(error.message).toBe(`java not found on PATH: ${JAVA_HINT}`);
    expect(error.message).toContain('apt-get install default-jdk-headless');
  });

  it('names Maven and what to install when mvn is not on PATH', () => {
    process.env.PATH = bareBin();
    const error = thrown(() => requireCommand('mvn', MAVEN_HINT));
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect(error.message).toMatch(/^mvn not found on PATH: install Maven \(Debian\/Ubuntu: apt-get install maven/);
  });

  it('refuses a Java older than 17 by its version', () => {
    process.env.PATH = bareBin((dir) => {
      writeFileSync(join(dir, 'java'), '#!/bin/sh\necho \'openjdk version "11.0.22" 2024-01-16\' >&2\n');
      chmodSync(join(dir, 'java'), 0o755);
    });
    const error = thrown(() => requireCommand('java', JAVA_HINT));
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect(error.message).toMatch(/^java on PATH is Java 11, the local Kafka broker needs 17 or newer: install a JDK 17/);
  });

  it('stops npm start with that one line and exit code 2, no stack trace', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bareBin(), LOCAL_INFRA: 'jars' };
    delete env.KAFKA_BROKERS;
    delete env.SCHEMA_REGISTRY_URL;
    const start = spawnSync(process.execPath, ['--import', 'tsx', join('tools', 'cli', 'start.ts')], {
      cwd: repoRoot(),
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(start.status).toBe(2);
    expect(start.stderr.trim().split('\n')).toEqual([`java not found on PATH: ${JAVA_HINT}`]);
  });
});

describe('first fetch progress', () => {
  it("counts Maven's finished downloads and names the one under way", () => {
    const progress = new DownloadProgress();
    expect(progress.report()).toBeUndefined();
    progress.read('[INFO] Downloading from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/4.4.0/kafka_2.13-4.4.0.jar');
    expect(progress.report()).toBe('0 files, 0.0 MB so far, downloading kafka_2.13-4.4.0.jar');
    progress.read('[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/4.4.0/kafka_2.13-4.4.0.jar (6.4 MB at 12 MB/s)');
    progress.read('[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar (41 kB at 2.0 MB/s)');
    expect(progress.report()).toBe('2 files, 6.4 MB so far');
    // Nothing new since the last line: no repeat.
    expect(progress.report()).toBeUndefined();
    expect(progress.summary()).toBe('2 files, 6.4 MB');
  });
});
