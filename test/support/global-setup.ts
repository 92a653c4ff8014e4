/**
 * vitest globalSetup: one Kafka broker and schema registry for the whole run, shared by all test files
 * (each test uses its own topic names). With KAFKA_BROKERS and SCHEMA_REGISTRY_URL already set, e.g. from
 * `npm run infra:up`, those are reused and nothing is started.
 */
import type { TestProject } from 'vitest/node';
import { startLocalInfra } from '../../tools/infra/launcher.js';
import type { TestInfra } from './infra-env.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const infra = await startLocalInfra({ log: (line) => console.log(`[infra] ${line}`) });
  const provided: TestInfra = { kafkaBrokers: infra.kafkaBrokers, schemaRegistryUrl: infra.schemaRegistryUrl };
  console.log(
    `[infra] ${infra.runtime}: KAFKA_BROKERS=${provided.kafkaBrokers} ` +
      `SCHEMA_REGISTRY_URL=${provided.schemaRegistryUrl} (${Date.now() - started} ms)`,
  );
  project.provide('kafkaBrokers', provided.kafkaBrokers);
  project.provide('schemaRegistryUrl', provided.schemaRegistryUrl);
  // Test workers are forked after this runs and inherit the environment: code reading its configuration
  // from env finds the same services, and startKafkaBroker() in a test skips probing for Docker again.
  process.env.KAFKA_BROKERS = provided.kafkaBrokers;
  process.env.SCHEMA_REGISTRY_URL = provided.schemaRegistryUrl;
  if (infra.runtime !== 'external') process.env.LOCAL_INFRA ??= infra.runtime;
  return () => infra.stop();
}
