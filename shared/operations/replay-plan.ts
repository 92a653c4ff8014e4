import { ExitCode, table } from './output.js';
import { UsageError } from './time-spec.js';

/** Where a group stands on one partition and what the log holds there. */
export interface PartitionOffsets {
  partition: number;
  /** The group's committed offset (next record it reads), null when it never committed here. */
  committed: number | null;
  /** First offset still in the log (older records were deleted by retention). */
  low: number;
  /** High watermark: the offset the next record written will get. */
  high: number;
}

export interface PartitionPlan {
  partition: number;
  current: number | null;
  target: number;
  low: number;
  high: number;
  /** Records the group already processed and will process again (negative target moves skip records instead). */
  reprocess: number | null;
  /** Records the group will not process because the target is ahead of it. */
  skip: number;
  lagNow: number | null;
  lagAfter: number;
  change: boolean;
  note?: string;
}

export interface ReplayPlan {
  partitions: PartitionPlan[];
  changes: PartitionPlan[];
  totalReprocess: number;
  totalSkip: number;
}

/** What the operator asked for, before the broker told us the offsets of a time. */
export type ReplayTargetSpec =
  | { kind: 'datetime'; at: number; label: string }
  | { kind: 'offsets'; offsets: Map<number, number> }
  | { kind: 'earliest' };

/** Exactly one target option, each of which must parse. */
export function parseReplayTarget(
  options: { 'to-datetime'?: string; 'to-offset'?: string[]; 'to-earliest'?: boolean; 'by-duration'?: string },
  now: number,
  parse: { dateTime(text: string): number; duration(text: string): number },
): ReplayTargetSpec {
  const given = [
    options['to-datetime'] !== undefined,
    (options['to-offset'] ?? []).length > 0,
    options['to-earliest'] === true,
    options['by-duration'] !== undefined,
  ].filter(Boolean).length;
  if (given !== 1) {
    throw new UsageError('expected exactly one of --to-datetime, --to-offset, --to-earliest, --by-duration');
  }
  if (options['to-datetime'] !== undefined) {
    const at = parse.dateTime(options['to-datetime']);
    return { kind: 'datetime', at, label: new Date(at).toISOString() };
  }
  if (options['by-duration'] !== undefined) {
    const at = now - parse.duration(options['by-duration']);
    return { kind: 'datetime', at, label: `${options['by-duration']} ago (${new Date(at).toISOString()})` };
  }
  if (options['to-earliest']) return { kind: 'earliest' };
  const offsets = new Map<number, number>();
  for (const entry of options['to-offset'] ?? []) {
    const match = /^(\d+):(\d+)$/.exec(entry.trim());
    if (!match) throw new UsageError(`--to-offset: expected PARTITION:OFFSET like 3:1200, got "${entry}"`);
    const partition = Number(match[1]);
    if (offsets.has(partition)) throw new UsageError(`--to-offset: partition ${partition} given twice`);
    offsets.set(partition, Number(match[2]));
  }
  return { kind: 'offsets', offsets };
}

/**
 * The plan per partition. `targets` maps partition -> wanted offset (partitions not in it keep
 * their position); 'earliest' means each partition's low watermark. Targets outside the log are
 * clamped to it, since the broker cannot serve them anyway.
 */
export function planReplay(partitions: PartitionOffsets[], targets: Map<number, number> | 'earliest'): ReplayPlan {
  if (targets !== 'earliest') {
    const known = new Set(partitions.map((p) => p.partition));
    const unknown = [...targets.keys()].filter((p) => !known.has(p));
    if (unknown.length > 0) {
      throw new UsageError(`partition ${unknown.join(', ')} does not exist (the topic has partitions 0..${partitions.length - 1})`);
    }
  }
  const plans = [...partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((p) => planPartition(p, targets === 'earliest' ? p.low : targets.get(p.partition)));
  const changes = plans.filter((p) => p.change);
  return {
    partitions: plans,
    changes,
    totalReprocess: changes.reduce((sum, p) => sum + (p.reprocess ?? 0), 0),
    totalSkip: changes.reduce((sum, p) => sum + p.skip, 0),
  };
}

function planPartition(p: PartitionOffsets, wanted: number | undefined): PartitionPlan {
  const lagNow = p.committed === null ? null : Math.max(0, p.high - p.committed);
  if (wanted === undefined) {
    const stay = p.committed ?? p.high;
    return { ...base(p, stay, lagNow), change: false, note: p.committed === null ? 'not consumed yet, left as is' : undefined };
  }
  let target = wanted;
  let note: string | undefined;
  if (wanted < p.low) {
    target = p.low;
    note = `clamped to the first retained offset ${p.low}`;
  } else if (wanted > p.high) {
    target = p.high;
    note = `clamped to the end of the log ${p.high}`;
  }
  const plan = base(p, target, lagNow);
  if (p.committed === null) {
    return { ...plan, change: true, note: note ?? 'no committed offset yet' };
  }
  return { ...plan, change: target !== p.committed, note };
}

function base(p: PartitionOffsets, target: number, lagNow: number | null): Omit<PartitionPlan, 'change'> {
  const delta = p.committed === null ? null : p.committed - target;
  return {
    partition: p.partition,
    current: p.committed,
    target,
    low: p.low,
    high: p.high,
    reprocess: delta === null ? null : Math.max(0, delta),
    skip: delta === null ? 0 : Math.max(0, -delta),
    lagNow,
    lagAfter: Math.max(0, p.high - target),
  };
}

export type ReplayOutcome = 'refused' | 'nothing-to-do' | 'planned' | 'applied';

/** Exit codes of `replay`: scripts tell the outcomes apart without parsing the output. */
export const REPLAY_EXIT: Record<ReplayOutcome, number> = {
  applied: ExitCode.ok,
  planned: ExitCode.ok,
  'nothing-to-do': ExitCode.nothingToDo,
  refused: ExitCode.refused,
};

/** Refused while the group has members (the broker would reject the commit, and they would overwrite it). */
export function decideReplay(plan: ReplayPlan, activeMembers: number, execute: boolean): Exclude<ReplayOutcome, 'applied'> | 'apply' {
  if (activeMembers > 0) return 'refused';
  if (plan.changes.length === 0) return 'nothing-to-do';
  return execute ? 'apply' : 'planned';
}

export function formatPlan(plan: ReplayPlan): string[] {
  const header = ['partition', 'current', 'target', 'reprocess', 'skip', 'lag now', 'lag after', 'note'];
  const rows = plan.partitions.map((p) => [
    String(p.partition),
    p.current === null ? '-' : String(p.current),
    p.change ? String(p.target) : '(unchanged)',
    p.reprocess === null ? '-' : String(p.change ? p.reprocess : 0),
    String(p.change ? p.skip : 0),
    p.lagNow === null ? '-' : String(p.lagNow),
    String(p.change ? p.lagAfter : (p.lagNow ?? p.lagAfter)),
    p.note ?? '',
  ]);
  return table([header, ...rows]);
}
