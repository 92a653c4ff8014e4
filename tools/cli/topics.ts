import { ConstantBackoff, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { ConfigResourceTypes, ConfigSource, ensureTopics, type Admin } from '../../shared/kafka.js';
import type { CatalogTopic } from '../../shared/topic-catalog.js';
import { ExitCode, println, table, type Out } from '../../shared/operations/output.js';
import { describeGroup } from '../../shared/operations/replay.js';
import { checkTopic, mergedOverrides, type ActualTopic, type TopicCheck } from './topic-drift.js';

/**
 * A topic created a moment ago can be unknown to the broker's metadata for a little while (KRaft
 * propagates it asynchronously), and kafkajs' wait for leaders gives up on that answer.
 */
const metadataSettles = retry(
  handleWhen((error) => ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE'].includes((error as { type?: string }).type ?? '')),
  { maxAttempts: 10, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) },
);

/** Polls a check until it holds, for at most about 15 s (a check still false then is returned as is). */
const settled = retry(
  handleWhen((error) => ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE'].includes((error as { type?: string }).type ?? '')).orWhenResult(
    (done) => done === false,
  ),
  { maxAttempts: 75, backoff: new ConstantBackoff(200) },
);

/** Every topic listed, and each of its partitions led by a broker. */
async function visible(admin: Admin, topics: string[]): Promise<boolean> {
  const listed = new Set(await admin.listTopics());
  if (!topics.every((t) => listed.has(t))) return false;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  return metadata.length === topics.length && metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
}

/** The topic configs `describe` shows beside the ones the catalogue sets. */
const SHOWN_CONFIGS = ['min.insync.replicas', 'retention.ms', 'cleanup.policy'];

export async function describeTopics(admin: Admin, names: string[], configNames: string[]): Promise<Map<string, ActualTopic>> {
  const existing = new Set(await admin.listTopics());
  const present = names.filter((n) => existing.has(n));
  const actual = new Map<string, ActualTopic>();
  if (present.length === 0) return actual;
  const [{ topics }, configs] = await Promise.all([
    admin.fetchTopicMetadata({ topics: present }),
    admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    }),
  ]);
  for (const t of topics) {
    const resource = configs.resources.find((r) => r.resourceName === t.name);
    const entries = resource?.configEntries ?? [];
    actual.set(t.name, {
      topic: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      configs: Object.fromEntries(entries.filter((e) => configNames.includes(e.configName)).map((e) => [e.configName, e.configValue])),
      overrides: Object.fromEntries(
        entries.filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG).map((e) => [e.configName, e.configValue]),
      ),
    });
  }
  return actual;
}

export interface EnsureResult {
  exitCode: number;
  created: string[];
  fixed: string[];
  checks: TopicCheck[];
}

/**
 * Creates every missing topic of the catalogue and checks the existing ones against it. Config
 * drift is fixed only with `fixConfigs`; partition and replication drift is only reported.
 */
export async function topicsEnsure(admin: Admin, catalog: CatalogTopic[], out: Out, opts: { fixConfigs?: boolean } = {}): Promise<EnsureResult> {
  const before = new Set(await admin.listTopics());
  await metadataSettles.execute(() => ensureTopics(admin, catalog));
  const created = catalog.map((t) => t.topic).filter((topic) => !before.has(topic));
  if (created.length > 0) await settled.execute(() => visible(admin, created));
  const configNames = [...new Set(catalog.flatMap((t) => t.configEntries.map((e) => e.name)))];
  let actual = await metadataSettles.execute(() => describeTopics(admin, catalog.map((t) => t.topic), configNames));
  let checks = catalog.map((spec) => checkTopic(spec, actual.get(spec.topic), created.includes(spec.topic)));

  const fixed: string[] = [];
  if (opts.fixConfigs) {
    const toFix = checks.filter((c) => c.configDrift.length > 0);
    if (toFix.length > 0) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: toFix.map((c) => {
          const spec = catalog.find((t) => t.topic === c.topic) as CatalogTopic;
          return { type: ConfigResourceTypes.TOPIC, name: c.topic, configEntries: mergedOverrides(actual.get(c.topic) as ActualTopic, spec) };
        }),
      });
      fixed.push(...toFix.map((c) => c.topic));
      // The controller applies the change; brokers describe it a moment later.
      await settled.execute(async () => {
        actual = await describeTopics(admin, catalog.map((t) => t.topic), configNames);
        checks = catalog.map((spec) => checkTopic(spec, actual.get(spec.topic), created.includes(spec.topic)));
        return checks.every((c) => c.configDrift.length === 0);
      });
    }
  }

  const rows = checks.map((c) => {
    const a = actual.get(c.topic);
    return [c.topic, fixed.includes(c.topic) && c.status === 'ok' ? 'fixed' : c.status, String(a?.partitions ?? '-'), String(a?.replicationFactor ?? '-'), a?.configs['min.insync.replicas'] ?? '-', a?.configs['retention.ms'] ?? '-'];
  });
  for (const line of table([['topic', 'status', 'partitions', 'replication', 'min.insync', 'retention.ms'], ...rows])) println(out, line);
  for (const c of checks) for (const p of c.problems) println(out, `${c.topic}: ${p}`);
  const drift = checks.filter((c) => c.status === 'drift' || c.status === 'missing');
  if (drift.some((c) => c.configDrift.length > 0) && !opts.fixConfigs) println(out, 'config drift: run again with --fix-configs to set the catalogue values');
  println(out, `${created.length} created, ${fixed.length} fixed, ${drift.length} with drift, ${checks.length} in the catalogue`);
  return { exitCode: drift.length > 0 ? ExitCode.drift : ExitCode.ok, created, fixed, checks };
}

export interface GroupLag {
  group: string;
  state: string;
  members: number;
  topic: string;
  lag: number;
  partitions: number;
}

export interface DescribeResult {
  exitCode: number;
  topics: Map<string, ActualTopic>;
  /** High minus low watermark per topic, summed over partitions. */
  records: Map<string, number>;
  lag: GroupLag[];
}

/** Each catalogue topic as it is, and the lag of each named consumer group on it. */
export async function topicsDescribe(admin: Admin, catalog: CatalogTopic[], groups: string[], out: Out): Promise<DescribeResult> {
  const actual = await metadataSettles.execute(() => describeTopics(admin, catalog.map((t) => t.topic), SHOWN_CONFIGS));
  const ends = new Map<string, { partition: number; low: number; high: number }[]>();
  for (const topic of actual.keys()) {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends.set(topic, offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })));
  }
  const records = new Map([...ends].map(([t, parts]) => [t, parts.reduce((sum, p) => sum + p.high - p.low, 0)]));
  const rows = catalog.map((spec) => {
    const a = actual.get(spec.topic);
    if (!a) return [spec.topic, spec.role, 'missing', '-', '-', '-', '-', '-'];
    return [spec.topic, spec.role, String(a.partitions), String(a.replicationFactor), a.configs['min.insync.replicas'] ?? '-', a.configs['retention.ms'] ?? '-', a.configs['cleanup.policy'] ?? '-', String(records.get(spec.topic) ?? 0)];
  });
  // Offsets, not records: transaction markers take offsets too.
  for (const line of table([['topic', 'role', 'partitions', 'replication', 'min.insync', 'retention.ms', 'cleanup', 'offsets'], ...rows])) {
    println(out, line);
  }

  const lag: GroupLag[] = [];
  const present = [...actual.keys()];
  for (const group of groups) {
    const state = await describeGroup(admin, group);
    const committed = present.length === 0 ? [] : await admin.fetchOffsets({ groupId: group, topics: present });
    for (const { topic, partitions } of committed) {
      const withOffsets = partitions.filter((p) => Number(p.offset) >= 0);
      if (withOffsets.length === 0) continue;
      const highs = new Map((ends.get(topic) ?? []).map((e) => [e.partition, e.high]));
      const topicLag = withOffsets.reduce((sum, p) => sum + Math.max(0, (highs.get(p.partition) ?? 0) - Number(p.offset)), 0);
      lag.push({ group, state: state.state, members: state.members, topic, lag: topicLag, partitions: withOffsets.length });
    }
    if (!lag.some((l) => l.group === group)) lag.push({ group, state: state.state, members: state.members, topic: '-', lag: 0, partitions: 0 });
  }
  println(out);
  const lagRows = lag.map((l) => [l.group, l.state, String(l.members), l.topic, l.partitions === 0 ? '-' : String(l.lag)]);
  for (const line of table([['group', 'state', 'members', 'topic', 'lag'], ...lagRows])) println(out, line);
  const missing = catalog.filter((t) => !actual.has(t.topic)).length;
  return { exitCode: missing > 0 ? ExitCode.drift : ExitCode.ok, topics: actual, records, lag };
}
