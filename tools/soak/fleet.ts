/**
 * The soak's processes: the simulator and N replicas of each pipeline service, each `node
 * dist/services/<name>/main.js` with its own ports, configured by env only, logging to a file.
 * Kills with SIGKILL (a crash, not a shutdown) or stops with SIGTERM (a shutdown), and starts
 * replacements and extra replicas on ports picked up front.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { delay, freePorts, tailFile, waitFor } from '../infra/process.js';
import type { PipelineService, ServiceName } from './samples.js';

export interface FleetSettings {
  root: string;
  logDir: string;
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  /** TOPIC_PREFIX of every service; group ids start with `runId`. */
  topicPrefix: string;
  runId: string;
  replicas: number;
  exactlyOnce: boolean;
  webhookSecret: string;
  /** Ports for the processes the run starts after the first ones (faults.ts sparePorts). */
  sparePorts: number;
}

export interface ServiceProcess {
  id: string;
  service: ServiceName;
  pid: number;
  /** The port its main HTTP server listens on (the ingress's public port). */
  port: number;
  /** The ingress's admin port (metrics, readiness), when set. */
  adminPort?: number;
  startedAt: number;
  /** Set once it answered its readiness check. */
  readyAt?: number;
  /** Set when it was sent SIGTERM: out of the rotation, shutting down. */
  leavingAt?: number;
  /** Started by the churn, on top of the replicas. */
  extra?: boolean;
  /** Set when the soak killed it, or when it exited by itself. */
  endedAt?: number;
  exit?: string;
  child: ChildProcess;
}

const ENTRY: Record<ServiceName, string> = {
  ingress: 'dist/services/ingress/main.js',
  fulfillment: 'dist/services/fulfillment/main.js',
  'ack-aggregator': 'dist/services/ack-aggregator/main.js',
  simulator: 'dist/services/cognigy-simulator/main.js',
};

/** A SIGKILLed member leaves its group after this long, so its partitions move within seconds. */
const SESSION_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 120_000;

export class Fleet {
  private readonly processes: ServiceProcess[] = [];
  private readonly started = new Map<ServiceName, number>();

  private constructor(
    private readonly settings: FleetSettings,
    private readonly ports: number[],
  ) {}

  /** Picks every port the run may need up front; nothing runs yet. */
  static async create(settings: FleetSettings): Promise<Fleet> {
    mkdirSync(settings.logDir, { recursive: true });
    // The simulator's, then per replica set: the ingress's public and admin ports, fulfillment's, the aggregator's.
    const ports = await freePorts(1 + 4 * settings.replicas + settings.sparePorts);
    return new Fleet(settings, ports);
  }

  /**
   * Starts the simulator, then every replica of every service at the same moment (as a deployment
   * rolling out does), and resolves once all answer their readiness check.
   */
  async startAll(): Promise<void> {
    await this.launch('simulator');
    const services: PipelineService[] = ['ingress', 'fulfillment', 'ack-aggregator'];
    await Promise.all(services.flatMap((service) => Array.from({ length: this.settings.replicas }, () => this.launch(service))));
  }

  get simulatorUrl(): string {
    return `http://127.0.0.1:${this.only('simulator').port}`;
  }

  /** Every process started in the run, ended ones included, in start order. */
  all(): readonly ServiceProcess[] {
    return this.processes;
  }

  live(service: ServiceName): ServiceProcess[] {
    return this.processes.filter((p) => p.service === service && p.endedAt === undefined);
  }

  /** Live, ready and not shutting down: what a load balancer would send to. */
  ready(service: ServiceName): ServiceProcess[] {
    return this.live(service).filter((p) => p.readyAt !== undefined && p.leavingAt === undefined);
  }

  /** SIGKILLs the oldest live replica of a service: a crash, no shutdown steps. */
  kill(service: PipelineService): ServiceProcess | undefined {
    const victim = this.live(service)[0];
    if (victim === undefined) return undefined;
    victim.endedAt = Date.now();
    victim.exit = 'SIGKILL (soak)';
    victim.child.kill('SIGKILL');
    return victim;
  }

  /**
   * SIGTERM: out of the rotation at once (as a load balancer takes it out first), then a graceful
   * stop; SIGKILL if it has not exited after `graceMs`. Resolves once it exited.
   */
  async terminate(p: ServiceProcess, graceMs = 30_000): Promise<void> {
    p.leavingAt = Date.now();
    await stopChild(p, graceMs);
  }

  /** Starts one more replica of a service (a replacement, or an `extra` one) and resolves once it is ready. */
  add(service: PipelineService, opts: { extra?: boolean } = {}): Promise<ServiceProcess> {
    return this.launch(service, opts.extra === true);
  }

  /** SIGTERM to everything still running (upstream first, as a deployment would), SIGKILL past the deadline. */
  async stop(graceMs = 30_000): Promise<void> {
    const order: ServiceName[] = ['ingress', 'fulfillment', 'ack-aggregator', 'simulator'];
    for (const service of order) {
      await Promise.all(this.processes.filter((p) => p.service === service).map((p) => stopChild(p, graceMs)));
    }
  }

  private only(service: ServiceName): ServiceProcess {
    const found = this.live(service)[0];
    if (found === undefined) throw new Error(`no ${service} process is running`);
    return found;
  }

  private takePort(): number {
    const port = this.ports.shift();
    if (port === undefined) throw new Error('the soak ran out of the ports it picked at start');
    return port;
  }

  private async launch(service: ServiceName, extra = false): Promise<ServiceProcess> {
    const n = (this.started.get(service) ?? 0) + 1;
    this.started.set(service, n);
    const id = `${service}#${n}`;
    const port = this.takePort();
    const adminPort = service === 'ingress' ? this.takePort() : undefined;
    const logFile = join(this.settings.logDir, `${service}-${n}.log`);
    const fd = openSync(logFile, 'w');
    const child = spawn(process.execPath, [ENTRY[service]], {
      cwd: this.settings.root,
      env: { ...process.env, ...this.envOf(service, id, port, adminPort) },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`${id} could not be started`);
    const proc: ServiceProcess = { id, service, pid: child.pid, port, adminPort, startedAt: Date.now(), extra, child };
    child.once('exit', (code, signal) => {
      proc.endedAt ??= Date.now();
      proc.exit ??= signal ?? `exit code ${code}`;
    });
    this.processes.push(proc);
    const readyPath = service === 'ingress' || service === 'simulator' ? '/healthz' : '/readyz';
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}${readyPath}`, { signal: AbortSignal.timeout(2_000) })).status === 200, {
      what: `${id} to be ready on port ${port}`,
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 250,
      failFast: () => (proc.endedAt !== undefined ? `exited (${proc.exit})` : undefined),
      diagnostics: () => tailFile(logFile, 20),
    });
    proc.readyAt = Date.now();
    return proc;
  }

  private envOf(service: ServiceName, id: string, port: number, adminPort: number | undefined): Record<string, string> {
    const s = this.settings;
    if (service === 'simulator') return { SIMULATOR_PORT: String(port), SIMULATOR_HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
    const common = {
      KAFKA_BROKERS: s.kafkaBrokers,
      SCHEMA_REGISTRY_URL: s.schemaRegistryUrl,
      TOPIC_PREFIX: s.topicPrefix,
      KAFKA_CLIENT_ID: `${s.runId}-${id.replace('#', '-')}`,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    switch (service) {
      case 'ingress':
        return {
          ...common,
          COGNIGY_WEBHOOK_SECRETS: s.webhookSecret,
          INGRESS_PORT: String(port),
          INGRESS_ADMIN_PORT: String(adminPort),
          INGRESS_HOST: '127.0.0.1',
        };
      case 'fulfillment':
        return {
          ...common,
          FULFILLMENT_GROUP_ID: `${s.runId}-fulfillment`,
          FULFILLMENT_PORT: String(port),
          FULFILLMENT_HOST: '127.0.0.1',
          FULFILLMENT_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
          DOWNSTREAM_URL: `${this.simulatorUrl}/v1/fulfill`,
          EXACTLY_ONCE: String(s.exactlyOnce),
        };
      case 'ack-aggregator':
        return {
          ...common,
          ACK_GROUP_ID: `${s.runId}-ack-aggregator`,
          ACK_AGGREGATOR_PORT: String(port),
          ACK_AGGREGATOR_HOST: '127.0.0.1',
          ACK_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
          ACK_WINDOW_MS: process.env.ACK_WINDOW_MS ?? '1000',
          COGNIGY_BASE_URL: this.simulatorUrl,
          COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
          COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
        };
    }
  }
}

async function stopChild(p: ServiceProcess, graceMs: number): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const inTime = await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)]);
  if (!inTime) {
    p.child.kill('SIGKILL');
    await exited;
  }
}
