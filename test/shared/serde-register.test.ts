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

  it('waits out a replica that set the compatibility at the same moment (409 on the config)', async () => {
    const conflict = Object.assign(named('ResponseError', 'cognigy-stream - A rule named COMPATIBILITY already exists.'), {
      status: 409,
      url: 'PUT http://registry/config/t-value',
    });
    const fake = registryFailing(conflict);
    await expect(new TopicSerde(fake.registry, 't', 'CognigyCallback').register()).resolves.toBe(7);
    expect(fake.calls()).toBe(2);
  });

  it('fails at once on any other refusal (an incompatible schema is a 409 too), and tries again on the next call', async () => {
    const incompatible = Object.assign(named('ResponseError', 'cognigy-stream - Schema being registered is incompatible'), {
      status: 409,
      url: 'POST http://registry/subjects/t-value/versions',
    });
    const fake = registryFailing(incompatible);
    const serde = new TopicSerde(fake.registry, 't', 'CognigyCallback');
    await expect(serde.register()).rejects.toThrow(/incompatible/);
    expect(fake.calls()).toBe(1);
    await expect(serde.register()).resolves.toBe(7);
  });
});
