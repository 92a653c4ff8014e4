/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked against the code it
 * starts: every env name against the service's zod schema, every port, address and dependency
 * against the other services.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { z } from 'zod';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { COGNIGY_PATHS, SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { SimulatorEnv } from '../../services/cognigy-simulator/config.js';
import { ConsoleEnv } from '../../services/console/config.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { IngressEnv } from '../../services/ingress/config.js';
import { SessionWriterEnv } from '../../services/session-writer/config.js';
import { loadConfig } from '../../shared/config.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { CliEnv } from '../../tools/cli/config.js';
import { localKafkaVersion } from '../../tools/infra/kafka-jars.js';

const root = join(import.meta.dirname, '..', '..');
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
}
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

/** The env schema of each service built from this repository. */
const SCHEMAS: Record<string, z.ZodType> = {
  ingress: IngressEnv,
  fulfillment: FulfillmentEnv,
  'ack-aggregator': AckAggregatorEnv,
  'session-writer': SessionWriterEnv,
  'cognigy-simulator': SimulatorEnv,
  console: ConsoleEnv,
  ops: CliEnv,
};
const appServices = Object.keys(SCHEMAS);

function shapeKeys(schema: z.ZodType): string[] {
  const s = schema as unknown as { shape?: Record<string, unknown>; def?: { in?: z.ZodType; schema?: z.ZodType } };
  if (s.shape) return Object.keys(s.shape);
  const inner = s.def?.in ?? s.def?.schema;
  if (inner) return shapeKeys(inner);
  throw new Error('not an object schema');
}

/** `${VAR:-default}` as compose resolves it with VAR unset. */
function resolve(value: string | number | boolean): string {
  return String(value).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '');
}

function envOf(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, resolve(v)]));
}

/** The HTTP ports a service of this repository listens on: its `*_PORT` variables. */
function appPorts(name: string): number[] {
  return Object.entries(envOf(name))
    .filter(([k]) => k.endsWith('_PORT'))
    .map(([, v]) => Number(v));
}

/** The port a service's health check probes: its admin port where it has one (the ingress), else its one port. */
function probePort(name: string): number | undefined {
  const env = envOf(name);
  const admin = Object.keys(env).find((k) => k.endsWith('_ADMIN_PORT'));
  if (admin) return Number(env[admin]);
  const ports = appPorts(name);
  return ports.length === 1 ? ports[0] : undefined;
}

/** Ports other containers can reach a service on. */
function listeningPorts(name: string): number[] {
  const env = envOf(name);
  if (name === 'kafka') {
    return (env.KAFKA_ADVERTISED_LISTENERS ?? '')
      .split(',')
      .map((l) => /\/\/kafka:(\d+)$/.exec(l.trim())?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number);
  }
  if (name === 'schema-registry') return [Number(new URL(env.SCHEMA_REGISTRY_LISTENERS ?? '').port)];
  return appPorts(name);
}

/** host:port pairs in an env value: URLs and comma lists of brokers. */
function addresses(value: string): { host: string; port: number }[] {
  return value
    .split(',')
    .map((part) => /^(?:[a-z]+:\/\/)?([a-z0-9.-]+):(\d+)(?:\/.*)?$/i.exec(part.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ host: m[1] as string, port: Number(m[2]) }));
}

function dependsOnTransitively(from: string, to: string, seen = new Set<string>()): boolean {
  for (const next of Object.keys(services[from]?.depends_on ?? {})) {
    if (next === to) return true;
    if (!seen.has(next)) {
      seen.add(next);
      if (dependsOnTransitively(next, to, seen)) return true;
    }
  }
  return false;
}

describe('docker-compose.yml', () => {
  it('runs Apache Kafka in KRaft mode, Confluent schema registry, the simulator and the services', () => {
    expect(services.kafka?.image).toBe(`apache/kafka:${localKafkaVersion({})}`);
    expect(envOf('kafka').KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(services['schema-registry']?.image).toMatch(/^confluentinc\/cp-schema-registry:\d+\.\d+\.\d+$/);
    for (const name of appServices) expect(services[name], name).toBeDefined();
  });

  it.each(appServices)('gives %s only variables its env schema reads', (name) => {
    const known = new Set(shapeKeys(SCHEMAS[name] as z.ZodType));
    const unknown = Object.keys(envOf(name)).filter((k) => !known.has(k));
    expect(unknown).toEqual([]);
  });

  it.each(appServices)('gives %s an environment its schema accepts as it stands', (name) => {
    expect(() => loadConfig(SCHEMAS[name] as z.ZodType, envOf(name))).not.toThrow();
  });

  it('has a default for every ${VAR}, so the stack starts without a .env file', () => {
    const bare = [...composeText.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    expect(bare).toEqual([]);
  });

  it('publishes (or, for the scalable consumers, exposes) and probes each service on the ports it listens on', () => {
    for (const name of appServices.filter((n) => n !== 'ops')) {
      const ports = appPorts(name);
      expect(ports.length, `${name} has a *_PORT`).toBeGreaterThan(0);
      const offered = [...(services[name]?.ports ?? []), ...(services[name]?.expose ?? []).map((p) => `${p}:${p}`)];
      for (const port of ports) expect(offered, name).toContain(`${port}:${port}`);
      const probe = probePort(name);
      expect(probe, `${name} has one port to probe`).toBeGreaterThan(0);
      expect(services[name]?.healthcheck?.test.join(' '), name).toContain(`127.0.0.1:${probe}/`);
    }
    // A published host port would stop a second replica from starting.
    for (const name of ['fulfillment', 'ack-aggregator']) expect(services[name]?.ports, name).toBeUndefined();
    // Readiness and metrics stay inside the compose network; the host sees only the webhook port.
    const ingressAdmin = Number(envOf('ingress').INGRESS_ADMIN_PORT);
    expect(services.ingress?.expose).toContain(String(ingressAdmin));
    expect((services.ingress?.ports ?? []).map((p) => Number(p.split(':').at(-1)))).not.toContain(ingressAdmin);
    expect(services['schema-registry']?.ports).toContain(`${listeningPorts('schema-registry')[0]}:8081`);
  });

  it('publishes each host port once', () => {
    const hostPorts = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('points every address at a service that listens there and is started before', () => {
    const checked: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        for (const { host, port } of addresses(resolve(value))) {
          if (!(host in services) || host === name) continue;
          checked.push(`${name}.${variable}`);
          expect(listeningPorts(host), `${name} ${variable} -> ${host}:${port}`).toContain(port);
          expect(dependsOnTransitively(name, host), `${name} waits for ${host}`).toBe(true);
        }
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        'schema-registry.SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS',
        'ingress.KAFKA_BROKERS',
        'fulfillment.DOWNSTREAM_URL',
        'ack-aggregator.COGNIGY_BASE_URL',
        'ops.SCHEMA_REGISTRY_URL',
      ]),
    );
  });

  it('logs the ack aggregator in with the credentials the simulator accepts, on the paths it serves', () => {
    const ack = loadConfig(AckAggregatorEnv, envOf('ack-aggregator'));
    expect(new URL(ack.COGNIGY_BASE_URL).hostname).toBe('cognigy-simulator');
    expect([ack.COGNIGY_CLIENT_ID, ack.COGNIGY_CLIENT_SECRET]).toEqual([SIMULATOR_CREDENTIALS.clientId, SIMULATOR_CREDENTIALS.clientSecret]);
    expect([ack.COGNIGY_TOKEN_PATH, ack.COGNIGY_ACK_PATH]).toEqual([COGNIGY_PATHS.token, COGNIGY_PATHS.batchAcknowledge]);
    expect(new URL(envOf('fulfillment').DOWNSTREAM_URL as string).pathname).toBe('/v1/fulfill');
  });

  it('depends only on existing services, waiting for health or completion each can report', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(dependsOnTransitively(name, name), `${name} depends on itself`).toBe(false);
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[target], `${name} -> ${target}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[target]?.healthcheck, `${target} health check`).toBeDefined();
        else expect([condition, services[target]?.restart]).toEqual(['service_completed_successfully', 'no']);
      }
    }
  });

  it('restarts and health-checks every long-running service', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.restart === 'no') continue;
      expect(service.restart, name).toMatch(/^(unless-stopped|always|on-failure)/);
      expect(service.healthcheck, name).toBeDefined();
    }
  });

  it('gives the same value wherever services share a variable (group ids, retry tiers, topics)', () => {
    const seen = new Map<string, Map<string, string>>();
    for (const name of appServices) {
      for (const [k, v] of Object.entries(envOf(name))) {
        const values = seen.get(k) ?? new Map<string, string>();
        values.set(name, v);
        seen.set(k, values);
      }
    }
    const disagreeing = [...seen].filter(([, values]) => new Set(values.values()).size > 1).map(([k, values]) => `${k}: ${JSON.stringify(Object.fromEntries(values))}`);
    expect(disagreeing).toEqual([]);
    expect(envOf('ops').FULFILLMENT_GROUP_ID).toBe(envOf('fulfillment').FULFILLMENT_GROUP_ID);
    expect(envOf('ops').RETRY_MAX_ATTEMPTS).toBe(envOf('fulfillment').RETRY_MAX_ATTEMPTS);
  });

  it('creates topics the single broker can host', () => {
    const catalog = topicCatalog(topicSettingsFromEnv(loadConfig(CliEnv, envOf('ops'))));
    expect(catalog.every((t) => t.replicationFactor === 1)).toBe(true);
    expect(catalog.filter((t) => t.role === 'retry')).toHaveLength(Number(envOf('fulfillment').RETRY_MAX_ATTEMPTS) - 1);
  });

  it('builds every service of this repository from the one Dockerfile and runs an entry point that exists', () => {
    for (const name of appServices) {
      const service = services[name] as Service;
      expect(service.build, name).toMatchObject({ context: '.', dockerfile: 'Dockerfile' });
      const script = [...(service.entrypoint ?? []), ...(service.command ?? [])].find((a) => a.startsWith('dist/'));
      expect(script, name).toMatch(/^dist\/.+\.js$/);
      const source = (script as string).replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(join(root, source)), source).toBe(true);
      // The build stage compiles only the folders it copies: without this one the image lacks the entry point.
      const folder = source.split('/')[0] as string;
      expect(dockerfile, source).toMatch(new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'));
    }
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];

  it('is multi-stage on a Node LTS image, installs with npm ci and builds with npm run build', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const version = Number(/^ARG NODE_VERSION=(\d+)/m.exec(dockerfile)?.[1]);
    // LTS lines are the even majors.
    expect(version % 2).toBe(0);
    expect(version).toBeGreaterThanOrEqual(20);
    for (const [, image] of stages) expect(image).toMatch(/^node:\$\{NODE_VERSION\}/);
    expect(dockerfile).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/npm run build/);
  });

  it('has the stage compose targets, copies the Avro schemas and runs as a non-root user', () => {
    const targets = new Set(Object.values(services).map((s) => s.build?.target).filter(Boolean));
    for (const target of targets) expect(stages.map((s) => s[2])).toContain(target);
    expect(dockerfile).toMatch(/COPY .*\/app\/schemas/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
