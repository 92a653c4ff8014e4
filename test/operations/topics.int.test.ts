import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { ConfigResourceTypes, createIdempotentProducer } from '../../shared/kafka.js';
import { topicCatalog, topicSettingsFromEnv, type CatalogTopic } from '../../shared/topic-catalog.js';
import { CliEnv } from '../../tools/cli/config.js';
import { runCli } from '../../tools/cli/commands.js';
import { captureOut, ExitCode } from '../../shared/operations/output.js';
import { describeTopics, topicsDescribe, topicsEnsure } from '../../tools/cli/topics.js';
import { waitFor } from '../support/wait.js';
import { opsFixture, type OpsFixture } from './support.js';

describe('topics ensure', () => {
  let fx: OpsFixture;
  let catalog: CatalogTopic[];

  beforeAll(async () => {
    fx = await opsFixture('topics', { RETRY_MAX_ATTEMPTS: '3', TOPIC_DLQ_RETENTION_MS: '1209600000' });
    catalog = topicCatalog(topicSettingsFromEnv(loadConfig(CliEnv, fx.env)));
  });

  afterAll(async () => {
    await fx?.close();
  });

  it('creates every catalogue topic with its settings, and a second run changes nothing', async () => {
    const first = await topicsEnsure(fx.admin, catalog, captureOut());
    expect(first.exitCode).toBe(ExitCode.ok);
    expect(first.created.sort()).toEqual(catalog.map((t) => t.topic).sort());
    expect(first.created).toContain(`${fx.prefix}cognigy.callbacks.retry.2`);

    const out = captureOut();
    const second = await runCli(['topics', 'ensure'], { env: fx.env, out, clients: fx });
    expect(second).toBe(ExitCode.ok);
    expect(out.text()).toMatch(/^0 created, 0 fixed, 0 with drift, 8 in the catalogue$/m);

    const actual = await describeTopics(fx.admin, [`${fx.prefix}cognigy.callbacks.dlq`], ['retention.ms', 'min.insync.replicas']);
    expect(actual.get(`${fx.prefix}cognigy.callbacks.dlq`)).toMatchObject({
      partitions: 3,
      replicationFactor: 1,
      configs: { 'retention.ms': '1209600000', 'min.insync.replicas': '1' },
    });
  }, 60_000);

  it('reports a topic whose retention was changed by hand, and sets it back only with --fix-configs', async () => {
    const results = `${fx.prefix}cognigy.fulfillment.results.v1`;
    await fx.admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: results, configEntries: [{ name: 'retention.ms', value: '60000' }, { name: 'max.message.bytes', value: '2000000' }] }],
    });
    await waitFor(async () => (await describeTopics(fx.admin, [results], ['retention.ms'])).get(results)?.configs['retention.ms'] === '60000', {
      what: 'the changed retention to be described',
    });
    const out = captureOut();
    expect(await runCli(['topics', 'ensure'], { env: fx.env, out, clients: fx })).toBe(ExitCode.drift);
    expect(out.text()).toMatch(/results\.v1: retention\.ms=60000, the catalogue wants 604800000/);

    const fixed = await topicsEnsure(fx.admin, catalog, captureOut(), { fixConfigs: true });
    expect(fixed.exitCode).toBe(ExitCode.ok);
    expect(fixed.fixed).toEqual([results]);
    const actual = await describeTopics(fx.admin, [results], ['retention.ms', 'max.message.bytes']);
    // The other override survives the fix.
    expect(actual.get(results)?.configs).toEqual({ 'retention.ms': '604800000', 'max.message.bytes': '2000000' });
  }, 60_000);

  it('describes the topics with record counts and the lag of each group', async () => {
    const callbacks = `${fx.prefix}cognigy.callbacks.v1`;
    const producer = createIdempotentProducer(fx.kafka);
    await producer.connect();
    await producer.send({ topic: callbacks, messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: 'v' })) });
    await producer.disconnect();
    const group = `${fx.prefix}lagging`;
    await fx.admin.setOffsets({ groupId: group, topic: callbacks, partitions: [0, 1, 2].map((partition) => ({ partition, offset: '0' })) });

    const out = captureOut();
    const described = await topicsDescribe(fx.admin, catalog, [group], out);
    expect(described.records.get(callbacks)).toBe(5);
    expect(described.lag).toContainEqual(expect.objectContaining({ group, topic: callbacks, lag: 5, partitions: 3 }));
    expect(out.text()).toMatch(new RegExp(`${group}\\s+\\w+\\s+0\\s+${callbacks.replace(/\./g, '\\.')}\\s+5`));
  }, 60_000);
});
