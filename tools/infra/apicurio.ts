/**
 * Apicurio Registry (Quarkus fast-jar, in-memory H2 storage) as a local stand-in for the Confluent
 * Schema Registry: its `/apis/ccompat/v7` API is what `@kafkajs/confluent-schema-registry` talks to.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCached, runMaven } from './cache.js';
import { registryAnswers } from './readiness.js';
import {
  exitReason,
  freePort,
  isPortClash,
  JAVA_HINT,
  type Log,
  requireCommand,
  run,
  spawnJava,
  tailFile,
  waitFor,
} from './process.js';

// The newest 3.x release that runs on Java 17: 3.3.x is compiled for Java 21 (class file 65).
const VERSION = '3.0.9';
const READY_TIMEOUT_MS = 120_000;

export async function ensureApicurio(log: Log): Promise<string> {
  return ensureCached(`apicurio-registry-${VERSION}`, async (dir) => {
    log(`fetching Apicurio Registry ${VERSION} with Maven (first use only, about 120 MB)`);
    // Plugin 2.8 on purpose: later versions resolve the artifact's parent pom, which Apicurio
    // never published to Central, and fail; 2.8 copies the archive without reading it.
    await runMaven(
      [
        'org.apache.maven.plugins:maven-dependency-plugin:2.8:copy',
        `-Dartifact=io.apicurio:apicurio-registry-app:${VERSION}:tar.gz:all`,
        `-DoutputDirectory=${dir}`,
      ],
      dir,
      log,
    );
    const archive = `apicurio-registry-app-${VERSION}-all.tar.gz`;
    await run('tar', ['-xzf', archive], dir);
    await rm(join(dir, archive)); // ~/.m2 keeps a copy
  });
}

export interface ApicurioRegistry {
  /** ccompat base URL, usable as `host` of `@kafkajs/confluent-schema-registry`. */
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startApicurio(opts: { log?: Log; detached?: boolean } = {}): Promise<ApicurioRegistry> {
  const log = opts.log ?? (() => {});
  requireCommand('java', JAVA_HINT);
  const home = await ensureApicurio(log);
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'apicurio-'));
    const logFile = join(dir, 'registry.log');
    const java = spawnJava(
      [
        '-Xms128m',
        '-Xmx512m',
        // Clients cache schemas by id, so the registry sees little traffic: a C1-only JIT and the serial
        // collector start ~40% faster and leave the CPU to the broker on small machines.
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        '-XX:+ExitOnOutOfMemoryError',
        '-Dquarkus.http.host=127.0.0.1',
        `-Dquarkus.http.port=${port}`,
        '-Dquarkus.banner.enabled=false',
        '-Dquarkus.http.access-log.enabled=false',
        '-Dquarkus.log.category."io.apicurio".level=WARN',
        // Confluent's registry defaults to BACKWARD compatibility; Apicurio has no rule unless told,
        // so without this an incompatible schema change would pass locally and fail in production.
        '-Dapicurio.rules.global.compatibility=BACKWARD',
        '-jar',
        join(home, `apicurio-registry-app-${VERSION}-runner.jar`),
      ],
      { cwd: dir, logFile, detached: opts.detached, cleanupDirs: [dir] },
    );
    const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
    const registry: ApicurioRegistry = {
      url,
      pid: java.pid,
      dir,
      stop: async () => {
        await java.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
    try {
      await waitFor(() => registryAnswers(url), {
        what: `Apicurio Registry on ${url}`,
        timeoutMs: READY_TIMEOUT_MS,
        failFast: () => exitReason(java, logFile),
        diagnostics: () => tailFile(logFile),
      });
      log(`schema registry ready on ${url} in ${Date.now() - started} ms (pid ${java.pid})`);
      return registry;
    } catch (err) {
      await registry.stop();
      // Another process may have taken the port between freePort() and the JVM binding it.
      if (!isPortClash(err) || attempt >= 3) throw err;
      log(`port ${port} was taken meanwhile, retrying with a new port`);
    }
  }
}
