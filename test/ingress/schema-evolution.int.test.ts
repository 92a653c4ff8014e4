import { readFileSync } from 'node:fs';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { loadSchema } from '../../shared/serde.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName } from '../support/wait.js';

const v1 = readFileSync(new URL('../fixtures/schemas/CognigyCallback.v1.avsc', import.meta.url), 'utf8');
const current = loadSchema('CognigyCallback');

const common = {
  eventId: 'e-1',
  correlationId: 'c-1',
  sessionId: 's-1',
  userId: null,
  eventType: 'flow_execution',
  intent: 'order_tracking',
  confidence: 0.94,
  text: 'Check order status',
  flowName: 'OrderSupportFlow',
  actionName: null,
  entities: null,
  occurredAt: null,
  receivedAt: '2026-01-01T00:00:00.000Z',
  rawBody: Buffer.from('{"sessionId":"s-1"}'),
};

/** Decodes Confluent-framed bytes written with `writer` using `reader`, as a consumer on the other version would. */
function readAs(reader: avro.Type, writer: avro.Type, framed: Buffer): unknown {
  return reader.fromBuffer(framed.subarray(5), reader.createResolver(writer));
}

describe('CognigyCallback schema evolution in the real registry', () => {
  it('registers the current schema over the first version under BACKWARD, and both versions read each other', async () => {
    const registry = new SchemaRegistry({ host: testInfra().schemaRegistryUrl });
    const subject = `${uniqueName('evolution')}-value`;
    const oldId = (await registry.register({ type: SchemaType.AVRO, schema: v1 }, { subject, compatibility: COMPATIBILITY.BACKWARD })).id;
    const newId = (await registry.register({ type: SchemaType.AVRO, schema: current }, { subject, compatibility: COMPATIBILITY.BACKWARD })).id;
    expect(newId).not.toBe(oldId);

    const oldType = avro.Type.forSchema(JSON.parse(v1) as avro.Schema);
    const newType = avro.Type.forSchema(JSON.parse(current) as avro.Schema);

    // An old record, read by a consumer on the new schema: the added fields take their defaults.
    const oldRecord = await registry.encode(oldId, common);
    expect(readAs(newType, oldType, oldRecord)).toMatchObject({ ...common, eventTypeRaw: null, variables: null });

    // A new record, read by a consumer still on the old schema: the added fields are skipped.
    const newRecord = await registry.encode(newId, { ...common, eventTypeRaw: 'flow.execution', variables: '{"tier":"gold"}' });
    const seenByOld = readAs(oldType, newType, newRecord) as Record<string, unknown>;
    expect(seenByOld).toMatchObject(common);
    expect(seenByOld).not.toHaveProperty('eventTypeRaw');

    // And a registry client that knows neither resolves the writer's schema from the id.
    expect(await new SchemaRegistry({ host: testInfra().schemaRegistryUrl }).decode(newRecord)).toMatchObject({ eventTypeRaw: 'flow.execution' });
  });

  it('refuses a new field without a default: the compatibility check is real', async () => {
    const registry = new SchemaRegistry({ host: testInfra().schemaRegistryUrl });
    const subject = `${uniqueName('evolution')}-value`;
    await registry.register({ type: SchemaType.AVRO, schema: v1 }, { subject, compatibility: COMPATIBILITY.BACKWARD });
    const broken = JSON.parse(current) as { fields: { name: string; type: unknown; default?: unknown }[] };
    broken.fields.push({ name: 'mandatoryNew', type: 'string' });
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(broken) }, { subject })).rejects.toMatchObject({
      message: expect.stringMatching(/incompatib/i),
    });
  });
});
