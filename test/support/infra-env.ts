/** Typed access, from inside a test file, to the infrastructure that test/support/global-setup.ts started. */
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}

export interface TestInfra {
  /** Comma-separated host:port list for kafkajs `brokers`. */
  kafkaBrokers: string;
  /** Base URL for `@kafkajs/confluent-schema-registry`'s `host`. */
  schemaRegistryUrl: string;
}

export function testInfra(): TestInfra {
  return { kafkaBrokers: inject('kafkaBrokers'), schemaRegistryUrl: inject('schemaRegistryUrl') };
}
