/**
 * The one entry point for "give me a Kafka broker and a schema registry".
 *
 * Choice, in order:
 *   1. KAFKA_BROKERS set: use it (and SCHEMA_REGISTRY_URL if set; otherwise a local Apicurio Registry),
 *      checked with the credentials the services use (KAFKA_SSL*, KAFKA_SASL_*, SCHEMA_REGISTRY_USERNAME/PASSWORD).
 *   2. A Docker engine answers: testcontainers (apache/kafka + confluentinc/cp-schema-registry).
 *   3. Otherwise: Kafka and Apicurio Registry from jars fetched with Maven (needs only java and mvn).
 * LOCAL_INFRA=jars|testcontainers skips the Docker probe and forces 2 or 3.
 */
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { checkClientSecurity, explainAccessFailure, KafkaAccessRefused, kafkaSecurity, registryAuth } from '../../shared/client-settings.js';
import { loadConfig, securityEnv } from '../../shared/config.js';
import type { KafkaSecurity } from '../../shared/kafka.js';
import { startApicurio } from './apicurio.js';
import { JarsKafkaBroker, type BrokerTls, type ScramUser } from './kafka-jars.js';
import { isAlive, killPid, type Log, waitFor } from './process.js';
import { CredentialsRefused, kafkaAnswers, registryAnswers } from './readiness.js';
import { dockerAvailable, removeContainers, startContainerInfra, startContainerKafkaBroker } from './testcontainers.js';

export type { Log } from './process.js';
export type InfraRuntime = 'external' | 'jars' | 'testcontainers';

export interface LocalInfra {
  /** Comma-separated host:port list, e.g. `127.0.0.1:40123`. */
  kafkaBrokers: string;
  /** Confluent-compatible base URL, usable as `host` of `@kafkajs/confluent-schema-registry`. */
  schemaRegistryUrl: string;
  runtime: InfraRuntime;
  /** Stops whatever this call started (nothing, for external services) and removes its temp folders. */
  stop(): Promise<void>;
}

export interface InfraOptions {
  /** Progress lines (fetching, ready in N ms); silent by default. */
  log?: Log;
}

/** A broker of its own that a test can take down and bring back on the same address with the same data. */
export interface KafkaBroker {
  brokers: string;
  /** What a client needs to be let in: SASL with the SCRAM user and TLS trusting the broker's CA, if it has them. */
  security: KafkaSecurity;
  /** A clean shutdown. */
  stop(): Promise<void>;
  /** A crash (SIGKILL): no clean shutdown, the data stays for `start()`. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops the broker for good and deletes its data. */
  destroy(): Promise<void>;
}

const EXTERNAL_CHECK_TIMEOUT_MS = 30_000;

/** Starts (or reuses, see the module comment) Kafka and a schema registry; they stop with this process. */
export async function startLocalInfra(opts: InfraOptions = {}): Promise<LocalInfra> {
  const log = opts.log ?? (() => {});
  const externalBrokers = process.env.KAFKA_BROKERS?.trim();
  if (externalBrokers) return useExternalKafka(externalBrokers, log);

  if ((await chooseRuntime()) === 'testcontainers') {
    const infra = await startContainerInfra({ log });
    return { ...pick(infra), runtime: 'testcontainers', stop: infra.stop };
  }
  const [broker, registry] = await startBoth(() => JarsKafkaBroker.launch({ log }), () => startApicurio({ log }));
  return {
    kafkaBrokers: broker.brokers,
    schemaRegistryUrl: registry.url,
    runtime: 'jars',
    stop: async () => {
      await Promise.all([broker.destroy(), registry.stop()]);
    },
  };
}

export interface BrokerOptions extends InfraOptions {
  /** A client listener that requires SASL/SCRAM-SHA-256 or -512 with this user (see JarsBrokerOptions.scram). */
  scram?: ScramUser;
  /** TLS on the client listener (see JarsBrokerOptions.tls). */
  tls?: BrokerTls;
}

/** Always a broker of its own, also when KAFKA_BROKERS names a shared one: a test may take it down. */
export async function startKafkaBroker(opts: BrokerOptions = {}): Promise<KafkaBroker> {
  // SCRAM users are added when the jars broker formats its storage, and its TLS listener reads a PEM
  // keystore; the apache/kafka image formats its storage itself. So a secured broker always runs from
  // the jars (Java 17+), also where a Docker engine answers.
  const secured = opts.scram !== undefined || opts.tls !== undefined;
  if (!secured && (await chooseRuntime()) === 'testcontainers') return { ...(await startContainerKafkaBroker(opts)), security: {} };
  const broker = await JarsKafkaBroker.launch(opts);
  return {
    brokers: broker.brokers,
    security: broker.security,
    stop: () => broker.stop(),
    kill: () => broker.kill(),
    start: () => broker.start(),
    destroy: () => broker.destroy(),
  };
}

/** LOCAL_INFRA, checked like every other variable: unset or empty means probe for Docker. */
export const localInfraEnv = {
  LOCAL_INFRA: z
    .string()
    .optional()
    .transform((text) => (text === undefined || text.trim() === '' ? undefined : text.trim()))
    .pipe(z.enum(['jars', 'testcontainers'], { error: 'expected jars or testcontainers' }).optional()),
};

let runtimeChoice: Promise<'jars' | 'testcontainers'> | undefined;

/** Memoised: probing Docker costs up to a few seconds and the answer does not change within a run. */
export function chooseRuntime(): Promise<'jars' | 'testcontainers'> {
  runtimeChoice ??= (async () => {
    const forced = loadConfig(z.object(localInfraEnv)).LOCAL_INFRA;
    if (forced !== undefined) return forced;
    return (await dockerAvailable()) ? 'testcontainers' : 'jars';
  })();
  return runtimeChoice;
}

/** The credentials of an external cluster and registry, checked like the services check them. */
const ExternalSecurityEnv = z.object(securityEnv).superRefine(checkClientSecurity);

async function useExternalKafka(kafkaBrokers: string, log: Log): Promise<LocalInfra> {
  const credentials = loadConfig(ExternalSecurityEnv);
  const kafka = { brokers: kafkaBrokers.split(','), ...kafkaSecurity(credentials) };
  await waitForUnlessRefused(
    () => kafkaAnswers(kafkaBrokers, kafka).catch((error: unknown) => Promise.reject(explainAccessFailure(error, kafka))),
    `the Kafka brokers in KAFKA_BROKERS (${kafkaBrokers})`,
  );
  const externalRegistry = process.env.SCHEMA_REGISTRY_URL?.trim().replace(/\/+$/, '');
  if (externalRegistry) {
    await waitForUnlessRefused(() => registryAnswers(externalRegistry, registryAuth(credentials)), `the schema registry in SCHEMA_REGISTRY_URL (${externalRegistry})`);
    log(`using KAFKA_BROKERS=${kafkaBrokers} and SCHEMA_REGISTRY_URL=${externalRegistry}`);
    return { kafkaBrokers, schemaRegistryUrl: externalRegistry, runtime: 'external', stop: async () => {} };
  }
  // Apicurio keeps schemas in memory and needs no Kafka, so it pairs with any broker.
  log(`using KAFKA_BROKERS=${kafkaBrokers}; SCHEMA_REGISTRY_URL not set, starting a local registry`);
  const registry = await startApicurio({ log });
  return { kafkaBrokers, schemaRegistryUrl: registry.url, runtime: 'external', stop: registry.stop };
}

/**
 * Polls an external service until it answers. Credentials it refuses or a certificate this client
 * does not trust end the wait at once, since waiting does not change them; a broker that only hangs
 * up may still be starting, so that is waited out and explained in the timeout's message.
 */
async function waitForUnlessRefused(check: () => Promise<boolean>, what: string): Promise<void> {
  let refused: string | undefined;
  await waitFor(
    async () => {
      try {
        return await check();
      } catch (error) {
        if (error instanceof CredentialsRefused || (error instanceof KafkaAccessRefused && error.reason !== 'hung-up')) refused = error.message;
        throw error;
      }
    },
    { what, timeoutMs: EXTERNAL_CHECK_TIMEOUT_MS, failFast: () => refused },
  );
}

/** Everything needed to find and stop infrastructure started by `infra:up` from another process. */
export interface DetachedInfra {
  runtime: 'jars' | 'testcontainers';
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  pids: number[];
  dirs: string[];
  containerIds: string[];
  networkIds: string[];
  startedAt: string;
}

/** Like startLocalInfra, but the services keep running after this process exits (ignores KAFKA_BROKERS). */
export async function startDetachedInfra(opts: InfraOptions = {}): Promise<DetachedInfra> {
  const log = opts.log ?? (() => {});
  const startedAt = new Date().toISOString();
  if ((await chooseRuntime()) === 'testcontainers') {
    const infra = await startContainerInfra({ log, detached: true });
    return {
      runtime: 'testcontainers',
      ...pick(infra),
      pids: [],
      dirs: [],
      containerIds: infra.containerIds,
      networkIds: infra.networkIds,
      startedAt,
    };
  }
  const [broker, registry] = await startBoth(
    () => JarsKafkaBroker.launch({ log, detached: true }),
    () => startApicurio({ log, detached: true }),
  );
  return {
    runtime: 'jars',
    kafkaBrokers: broker.brokers,
    schemaRegistryUrl: registry.url,
    pids: [broker.pid, registry.pid].filter((pid): pid is number => pid !== undefined),
    dirs: [broker.dir, registry.dir],
    containerIds: [],
    networkIds: [],
    startedAt,
  };
}

/** True if everything recorded in the state still runs and answers. */
export async function detachedInfraAlive(state: DetachedInfra): Promise<boolean> {
  if (!state.pids.every(isAlive)) return false;
  try {
    return (await kafkaAnswers(state.kafkaBrokers)) && (await registryAnswers(state.schemaRegistryUrl));
  } catch {
    return false;
  }
}

export async function stopDetachedInfra(state: DetachedInfra): Promise<void> {
  await Promise.all(state.pids.map((pid) => killPid(pid)));
  if (state.containerIds.length > 0 || state.networkIds.length > 0) await removeContainers(state.containerIds, state.networkIds);
  await Promise.all(state.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

function pick(infra: { kafkaBrokers: string; schemaRegistryUrl: string }): { kafkaBrokers: string; schemaRegistryUrl: string } {
  return { kafkaBrokers: infra.kafkaBrokers, schemaRegistryUrl: infra.schemaRegistryUrl };
}

/** Starts two services in parallel (the JVMs warm up concurrently); if one fails, the other is stopped again. */
async function startBoth<A extends { destroy(): Promise<void> }, B extends { stop(): Promise<void> }>(
  startA: () => Promise<A>,
  startB: () => Promise<B>,
): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([startA(), startB()]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return [a.value, b.value];
  if (a.status === 'fulfilled') await a.value.destroy();
  if (b.status === 'fulfilled') await b.value.stop();
  throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
}
