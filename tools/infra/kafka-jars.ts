/**
 * A single-node KRaft Kafka broker run straight from the Apache Kafka jars (fetched with Maven),
 * for machines without a Docker engine.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaSecurity } from '../../shared/kafka.js';
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

const POM = (): string => join(repoRoot(), 'tools', 'infra', 'pom.xml');

/**
 * The Apache Kafka release the jars path runs: LOCAL_KAFKA_VERSION when set (the CI matrix runs the
 * integration tests on 3.9.1 with it), otherwise the pom's default.
 */
export function localKafkaVersion(env: NodeJS.ProcessEnv = process.env): string {
  const wanted = env.LOCAL_KAFKA_VERSION?.trim();
  if (wanted) {
    if (!/^\d+\.\d+\.\d+$/.test(wanted)) throw new Error(`LOCAL_KAFKA_VERSION: expected a release like 4.4.0, got "${wanted}"`);
    return wanted;
  }
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(POM(), 'utf8'));
  if (!match?.[1]) throw new Error(`no <kafka.version> in ${POM()}`);
  return match[1];
}

/** Downloads (first use only) and returns the folder holding the broker's jars. */
export async function ensureKafkaJars(log: Log, version = localKafkaVersion()): Promise<string> {
  const pom = POM();
  const hash = createHash('sha1').update(readFileSync(pom)).digest('hex').slice(0, 10);
  return ensureCached(`kafka-jars-${version}-${hash}`, async (dir) => {
    log(`fetching Apache Kafka ${version} broker jars with Maven (first use only, about 45 MB)`);
    await runMaven(['-f', pom, 'dependency:copy-dependencies', `-Dkafka.version=${version}`, `-DoutputDirectory=${dir}`], dir, log);
  });
}

export interface JarsBrokerOptions {
  log?: Log;
  /** Let the JVM outlive this process (`infra:up`). */
  detached?: boolean;
  /**
   * A client listener that takes only SASL/SCRAM (SCRAM-SHA-256 and SCRAM-SHA-512; over plaintext
   * unless `tls`), as managed clusters do, with this one user; controller and inter-broker traffic
   * keep listeners of their own. The credentials go into the metadata when the storage is formatted.
   */
  scram?: ScramUser;
  /** TLS on the client listener (SSL, or SASL_SSL with `scram`). */
  tls?: BrokerTls;
}

export interface ScramUser {
  username: string;
  password: string;
}

export interface BrokerTls {
  /** A PEM file holding the broker's encrypted PKCS#8 private key and its certificate chain. */
  keystoreFile: string;
  /** The private key's password (Kafka requires one for a PEM keystore file). */
  keyPassword: string;
  /** The PEM of the CA that signed the broker's certificate, for the readiness probe. */
  ca: string;
}

// StorageTool splits `[name=...,password=...]` at commas, equals signs and brackets; these need no quoting.
const SCRAM_TEXT = /^[A-Za-z0-9._~-]+$/;

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
    readonly version: string,
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** What a client needs to be let in (readiness probes use it too): SCRAM-SHA-512 with the user, TLS trusting the CA. */
  get security(): KafkaSecurity {
    const { scram, tls } = this.opts;
    return {
      ...(tls ? { ssl: { ca: tls.ca } } : {}),
      ...(scram ? { sasl: { mechanism: 'scram-sha-512', username: scram.username, password: scram.password } } : {}),
    };
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Formats a fresh broker and starts it; retries with new ports if another process grabbed ours meanwhile. */
  static async launch(opts: JarsBrokerOptions = {}): Promise<JarsKafkaBroker> {
    const log = opts.log ?? (() => {});
    if (opts.scram && !(SCRAM_TEXT.test(opts.scram.username) && SCRAM_TEXT.test(opts.scram.password))) {
      throw new Error("the local broker's SCRAM user name and password: expected letters, digits and . _ ~ - only");
    }
    requireCommand('java', JAVA_HINT);
    const version = localKafkaVersion();
    const jarsDir = await ensureKafkaJars(log, version);
    for (let attempt = 1; ; attempt++) {
      const [port, controllerPort, internalPort] = (await freePorts(3)) as [number, number, number];
      const dir = await mkdtemp(join(tmpdir(), 'kafka-'));
      const broker = new JarsKafkaBroker(dir, port, jarsDir, opts, version);
      try {
        await broker.format(controllerPort, internalPort);
        await broker.start();
        return broker;
      } catch (err) {
        await broker.destroy();
        if (!isPortClash(err) || attempt >= 3) throw err;
        log(`port ${port}, ${controllerPort} or ${internalPort} was taken meanwhile, retrying with new ports`);
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
    await waitFor(() => kafkaAnswers(this.brokers, this.security), {
      what: `Kafka broker on ${this.brokers}`,
      timeoutMs: READY_TIMEOUT_MS,
      failFast: () => exitReason(java, logFile),
      diagnostics: () => tailFile(logFile),
    });
    this.opts.log?.(`Kafka ${this.version} broker ready on ${this.brokers} in ${Date.now() - started} ms (pid ${java.pid})`);
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
      // 3.x logs through reload4j (log4j 1 syntax); 4.x also configures log4j 2, which needs its own file.
      `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
      `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
      '-cp',
      // The JVM expands the wildcard itself; no shell is involved.
      join(this.jarsDir, '*'),
    ];
  }

  private async format(controllerPort: number, internalPort: number): Promise<void> {
    const ports = { client: this.port, controller: controllerPort, internal: internalPort };
    const properties = serverProperties(ports, join(this.dir, 'data'), this.opts);
    await writeFile(join(this.dir, 'server.properties'), properties);
    await writeFile(join(this.dir, 'log4j.properties'), LOG4J);
    await writeFile(join(this.dir, 'log4j2.properties'), LOG4J2);
    const format = ['kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', 'server.properties', ...scramArgs(this.opts.scram)];
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

/**
 * `--add-scram` puts the user into the first metadata records, for both mechanisms (KRaft has no
 * ZooKeeper to hold them, and the broker's own SCRAM API would need a client that is already in).
 */
function scramArgs(user: ScramUser | undefined): string[] {
  if (!user) return [];
  return ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${user.username},password=${user.password}]`]);
}

/**
 * Clients connect to CLIENT. With SCRAM or TLS it takes only those, and the broker talks to itself
 * on INTERNAL (plaintext, on 127.0.0.1), as the controller does on CONTROLLER.
 */
function listenerProperties(ports: { client: number; controller: number; internal: number }, opts: JarsBrokerOptions): string {
  const { scram, tls } = opts;
  if (!scram && !tls) {
    return `listeners=PLAINTEXT://127.0.0.1:${ports.client},CONTROLLER://127.0.0.1:${ports.controller}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports.client}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT`;
  }
  const protocol = scram ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : 'SSL';
  const login = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const lines = [
    `listeners=CLIENT://127.0.0.1:${ports.client},INTERNAL://127.0.0.1:${ports.internal},CONTROLLER://127.0.0.1:${ports.controller}`,
    `advertised.listeners=CLIENT://127.0.0.1:${ports.client},INTERNAL://127.0.0.1:${ports.internal}`,
    'controller.listener.names=CONTROLLER',
    `listener.security.protocol.map=CLIENT:${protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT`,
    'inter.broker.listener.name=INTERNAL',
  ];
  if (scram) {
    lines.push(
      'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.client.scram-sha-256.sasl.jaas.config=${login}`,
      `listener.name.client.scram-sha-512.sasl.jaas.config=${login}`,
    );
  }
  if (tls) {
    lines.push(
      'listener.name.client.ssl.keystore.type=PEM',
      `listener.name.client.ssl.keystore.location=${tls.keystoreFile}`,
      `listener.name.client.ssl.key.password=${tls.keyPassword}`,
    );
  }
  return lines.join('\n');
}

function serverProperties(ports: { client: number; controller: number; internal: number }, dataDir: string, opts: JarsBrokerOptions): string {
  return `# single-node KRaft broker for local development and tests
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${ports.controller}
${listenerProperties(ports, opts)}
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

const LOG4J2 = `rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
`;
