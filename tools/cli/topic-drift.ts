import type { CatalogTopic } from '../../shared/topic-catalog.js';

/** A topic as the cluster describes it. */
export interface ActualTopic {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** Effective values of the configs the catalogue sets. */
  configs: Record<string, string>;
  /** Topic-level overrides (whatever set them), kept when configs are fixed. */
  overrides: Record<string, string>;
}

export interface TopicCheck {
  topic: string;
  role: CatalogTopic['role'];
  status: 'created' | 'ok' | 'drift' | 'missing';
  problems: string[];
  /** Configs that differ from the catalogue; `--fix-configs` sets them. */
  configDrift: { name: string; actual: string | undefined; wanted: string }[];
}

/**
 * Compares a topic with its catalogue entry. Partition count and replication are reported, never
 * changed here: adding partitions moves sessions to other partitions (their order is only kept
 * within one), and replication changes need a reassignment plan.
 */
export function checkTopic(spec: CatalogTopic, actual: ActualTopic | undefined, created: boolean): TopicCheck {
  if (!actual) return { topic: spec.topic, role: spec.role, status: 'missing', problems: ['does not exist'], configDrift: [] };
  const problems: string[] = [];
  if (actual.partitions < spec.numPartitions) {
    problems.push(`${actual.partitions} partitions, the catalogue wants ${spec.numPartitions} (adding partitions remaps sessions; see the runbook)`);
  } else if (actual.partitions > spec.numPartitions) {
    problems.push(`${actual.partitions} partitions, more than the catalogue's ${spec.numPartitions} (fine: partitions are never removed)`);
  }
  if (actual.replicationFactor !== spec.replicationFactor) {
    problems.push(`replication ${actual.replicationFactor}, the catalogue wants ${spec.replicationFactor} (needs a partition reassignment)`);
  }
  const configDrift = spec.configEntries
    .filter((entry) => actual.configs[entry.name] !== entry.value)
    .map((entry) => ({ name: entry.name, actual: actual.configs[entry.name], wanted: entry.value }));
  for (const d of configDrift) problems.push(`${d.name}=${d.actual ?? '(unset)'}, the catalogue wants ${d.wanted}`);
  // More partitions than asked is not a fault to fix.
  const faults = problems.filter((p) => !p.includes('more than the catalogue'));
  const status = faults.length > 0 ? 'drift' : created ? 'created' : 'ok';
  return { topic: spec.topic, role: spec.role, status, problems, configDrift };
}

/**
 * The full override set to write: the broker's AlterConfigs replaces every override of a topic,
 * so the existing ones are carried over and only the catalogue's entries change.
 */
export function mergedOverrides(actual: ActualTopic, spec: CatalogTopic): { name: string; value: string }[] {
  const merged = { ...actual.overrides };
  for (const entry of spec.configEntries) merged[entry.name] = entry.value;
  return Object.entries(merged)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}
