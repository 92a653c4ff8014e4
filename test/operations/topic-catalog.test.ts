import { describe, expect, it } from 'vitest';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { loadConfig } from '../../shared/config.js';
import { defaultMinInsyncReplicas, topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { CliEnv } from '../../tools/cli/config.js';
import { checkTopic, mergedOverrides } from '../../tools/cli/topic-drift.js';

const settings = (env: Record<string, string> = {}) => topicSettingsFromEnv(loadConfig(CliEnv, env));

describe('topic catalogue', () => {
  it('lists the callbacks, one retry tier per retry, results, DLQ, batch records and the dedup changelogs', () => {
    const catalog = topicCatalog(settings({ TOPIC_PREFIX: 'x.', RETRY_MAX_ATTEMPTS: '3' }));
    expect(catalog.map((t) => t.topic)).toEqual([
      'x.cognigy.callbacks.v1',
      'x.cognigy.callbacks.retry.1',
      'x.cognigy.callbacks.retry.2',
      'x.cognigy.fulfillment.results.v1',
      'x.cognigy.callbacks.dlq',
      'x.cognigy.acks.batches.v1',
      'x.cognigy.fulfillment.dedup.v1',
      'x.cognigy.acks.dedup.v1',
    ]);
  });

  it('keeps the dedup changelogs compacted, deleted after their retention, in segments that roll within it', () => {
    const configs = (role: string) =>
      Object.fromEntries(topicCatalog(settings({ TOPIC_DEDUP_RETENTION_MS: '3600000' })).find((t) => t.role === role)?.configEntries.map((e) => [e.name, e.value]) ?? []);
    for (const role of ['fulfillmentDedup', 'acksDedup']) {
      expect(configs(role)).toMatchObject({ 'cleanup.policy': 'compact,delete', 'retention.ms': '3600000', 'segment.ms': '900000' });
    }
  });

  it('refuses a dedup window the changelog retention would cut short', () => {
    const env = { KAFKA_BROKERS: '127.0.0.1:9092', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081', TOPIC_DEDUP_RETENTION_MS: '60000' };
    expect(() => loadConfig(FulfillmentEnv, { ...env, FULFILLMENT_DEDUP_WINDOW_S: '61' })).toThrow(/FULFILLMENT_DEDUP_WINDOW_S/);
    expect(() => loadConfig(FulfillmentEnv, { ...env, FULFILLMENT_DEDUP_WINDOW_S: '60' })).not.toThrow();
    expect(() => loadConfig(AckAggregatorEnv, { ...env, COGNIGY_AUTH: 'api-key', COGNIGY_API_KEY: 'k', ACK_DEDUP_WINDOW_S: '61' })).toThrow(/ACK_DEDUP_WINDOW_S/);
  });

  it('has no retry tier when a callback gets a single attempt', () => {
    expect(topicCatalog(settings({ RETRY_MAX_ATTEMPTS: '1' })).filter((t) => t.role === 'retry')).toEqual([]);
  });

  it('keeps the DLQ and the batch records longer than the rest', () => {
    const retention = (role: string) =>
      Number(topicCatalog(settings()).find((t) => t.role === role)?.configEntries.find((e) => e.name === 'retention.ms')?.value);
    expect(retention('dlq')).toBeGreaterThan(retention('callbacks'));
    expect(retention('ackBatches')).toBeGreaterThan(retention('callbacks'));
  });

  it('takes partitions, replication and min.insync.replicas from env', () => {
    const [callbacks] = topicCatalog(settings({ TOPIC_PARTITIONS: '12', TOPIC_REPLICATION_FACTOR: '3' }));
    expect(callbacks).toMatchObject({ numPartitions: 12, replicationFactor: 3 });
    expect(callbacks?.configEntries).toContainEqual({ name: 'min.insync.replicas', value: '2' });
  });

  it('defaults min.insync.replicas to tolerate one lost replica, and refuses more than the replication', () => {
    expect([1, 2, 3, 5].map(defaultMinInsyncReplicas)).toEqual([1, 1, 2, 2]);
    expect(() => settings({ TOPIC_REPLICATION_FACTOR: '2', TOPIC_MIN_INSYNC_REPLICAS: '3' })).toThrow(/TOPIC_MIN_INSYNC_REPLICAS/);
  });
});

describe('topic drift', () => {
  const [spec] = topicCatalog(settings({ TOPIC_PARTITIONS: '6' }));
  if (!spec) throw new Error('empty catalogue');
  const configs = Object.fromEntries(spec.configEntries.map((e) => [e.name, e.value]));

  it('is none for a topic exactly as catalogued', () => {
    const check = checkTopic(spec, { topic: spec.topic, partitions: 6, replicationFactor: 1, configs, overrides: configs }, false);
    expect(check).toMatchObject({ status: 'ok', problems: [] });
  });

  it('reports fewer partitions and a different retention, and only the config as fixable', () => {
    const actual = { topic: spec.topic, partitions: 3, replicationFactor: 1, configs: { ...configs, 'retention.ms': '1000' }, overrides: {} };
    const check = checkTopic(spec, actual, false);
    expect(check.status).toBe('drift');
    expect(check.problems.join('\n')).toMatch(/3 partitions/);
    expect(check.configDrift.map((d) => d.name)).toEqual(['retention.ms']);
  });

  it('does not count more partitions than catalogued as drift', () => {
    const check = checkTopic(spec, { topic: spec.topic, partitions: 12, replicationFactor: 1, configs, overrides: {} }, false);
    expect(check.status).toBe('ok');
  });

  it('keeps overrides set by others when writing the catalogue values', () => {
    const actual = { topic: spec.topic, partitions: 6, replicationFactor: 1, configs, overrides: { 'max.message.bytes': '2000000', 'retention.ms': '5' } };
    const merged = Object.fromEntries(mergedOverrides(actual, spec).map((e) => [e.name, e.value]));
    expect(merged['max.message.bytes']).toBe('2000000');
    expect(merged['retention.ms']).toBe(configs['retention.ms']);
  });
});
