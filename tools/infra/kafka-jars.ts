/**
 * A single-node KRaft Kafka broker run straight from the Apache Kafka jars (fetched with Maven),
 * for machines without a Docker engine.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCached, repoRoot, runMaven } from './cache.js';
import { kafkaAnswers } from './readiness.js';
import {
  exitReason,
  freePorts,
  isPortClash,
  JAVA_HINT,
  type JavaProcess,
  type Log,
  requireCommand,
  run,
  spawnJava,
  tailFile,
  waitFor,
} from './process.js';

const READY_TIMEOUT_MS = 120_000;

/** Downloads (first use only) and returns the folder holding the broker's jars. */
export async function ensureKafkaJars(log: Log): Promise<string> {
  const pom = join(repoRoot(), 'tools', 'infra', 'pom.xml');
  const hash = createHash('sha1').update(readFileSync(pom)).digest('hex').slice(0, 10);
  return ensureCached(`kafka-jars-${hash}`, async (dir) => {
    log('fetching Kafka broker jars with Maven (first use only)');
    await runMaven(['-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${dir}`], dir);
  });
}

export interface JarsBrokerOptions {
  log?: Log;
  /** Let the JVM outlive this process (`infra:up`). */
  detached?: boolean;
}

/**
 * One broker with its own temp folder and ports. `stop()` or `kill()`, then `start()`, reuse both,
 * which is what "broker goes down, then comes back" tests need.
 */
export class JarsKafkaBroker {
  private process: JavaProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly jarsDir: string,
    private readonly opts: JarsBrokerOptions,
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Formats a fresh broker and starts it; retries with new ports if another process grabbed ours meanwhile. */
  static async launch(opts: JarsBrokerOptions = {}): Promise<JarsKafkaBroker> {
    const log = opts.log ?? (() => {});
    requireCommand('java', JAVA_HINT);
    const jarsDir = await ensureKafkaJars(log);
    for (let attempt = 1; ; attempt++) {
      const [port, controllerPort] = (await freePorts(2)) as [number, number];
      const dir = await mkdtemp(join(tmpdir(), 'kafka-'));
      const broker = new JarsKafkaBroker(dir, port, jarsDir, opts);
      try {
        await broker.format(controllerPort);
        await broker.start();
        return broker;
      } catch (err) {
        await broker.destroy();
        if (!isPortClash(err) || attempt >= 3) throw err;
        log(`port ${port} or ${controllerPort} was taken meanwhile, retrying with new ports`);
      }
    }
  }

  async start(): Promise<void> {
    if (this.process && this.process.exitStatus() === undefined) return;
    const started = Date.now();
    const logFile = join(this.dir, 'broker.log');
    const java = spawnJava([...this.jvmArgs(), 'kafka.Kafka', 'server.properties'], {
      cwd: this.dir,
      logFile,
      detached: this.opts.detached,
      cleanupDirs: [this.dir],
    });
    this.process = java;
    await waitFor(() => kafkaAnswers(this.brokers), {
      what: `Kafka broker on ${this.brokers}`,
      timeoutMs: READY_TIMEOUT_MS,
      failFast: () => exitReason(java, logFile),
      diagnostics: () => tailFile(logFile),
    });
    this.opts.log?.(`Kafka broker ready on ${this.brokers} in ${Date.now() - started} ms (pid ${java.pid})`);
  }

  /** Graceful shutdown, so the data written so far is still there after `start()`. */
  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = undefined;
  }

  /**
   * SIGKILL: no controlled shutdown, so open transactions, group state and unflushed log segments
   * are left as a crash leaves them. The data folder stays; `start()` recovers from it.
   */
  async kill(): Promise<void> {
    await this.process?.kill();
    this.process = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private jvmArgs(): string[] {
    return [
      // Kafka's own defaults (kafka-run-class.sh), with a heap sized for a small CI machine.
      '-Xms256m',
      '-Xmx512m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
      '-cp',
      // The JVM expands the wildcard itself; no shell is involved.
      join(this.jarsDir, '*'),
    ];
  }

  private async format(controllerPort: number): Promise<void> {
    const properties = serverProperties(this.port, controllerPort, join(this.dir, 'data'));
    await writeFile(join(this.dir, 'server.properties'), properties);
    await writeFile(join(this.dir, 'log4j.properties'), LOG4J);
    const format = ['kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', 'server.properties'];
    await run('java', [...this.jvmArgs(), ...format], this.dir);
  }
}

/** Same format as `kafka-storage random-uuid` (URL-safe base64 of 16 random bytes), without starting a JVM for it. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id; // a leading dash would be parsed as a CLI flag
  }
}

function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return `# single-node KRaft broker for local development and tests
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir}
num.partitions=6
# one broker: every internal topic must live with replication factor 1, or groups and transactions never become available
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# fewer internal partitions than the default 50, so the first consumer group / transaction does not wait for 50 partition loads
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
# tests start consumers one after another; don't hold the first rebalance back for 3 s
group.initial.rebalance.delay.ms=0
# small-machine sizing
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=16777216
`;
}

const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
`;
