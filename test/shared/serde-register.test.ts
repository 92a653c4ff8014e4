import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { TopicSerde } from '../../shared/serde.js';

/** A registry whose first answers are the given errors, then an id. */
function registryFailing(...errors: Error[]) {
  let calls = 0;
  const registry = {
    register: async () => {
      const error = errors[calls];
      calls += 1;
      if (error) throw error;
      return { id: 7 };
    },
  } as unknown as SchemaRegistry;
  return { registry, calls: () => calls };
}

function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('schema registration', () => {
  it('waits out a replica that registered the subject and has not set its compatibility yet', async () => {
    const race = named('ConfluentSchemaRegistryCompatibilityError', 'Compatibility does not match the configuration (BACKWARD != NONE)');
    const fake = registryFailing(race, race);
    await expect(new TopicSerde(fake.registry, 't', 'CognigyCallback').register()).resolves.toBe(7);
    expect(fake.calls()).toBe(3);
  });

  it('fails at once on any other refusal, and tries again on the next call', async () => {
    const fake = registryFailing(named('ConfluentSchemaRegistryError', 'Schema being registered is incompatible'));
    const serde = new TopicSerde(fake.registry, 't', 'CognigyCallback');
    await expect(serde.register()).rejects.toThrow(/incompatible/);
    expect(fake.calls()).toBe(1);
    await expect(serde.register()).resolves.toBe(7);
  });
});
