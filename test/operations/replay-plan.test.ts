import { describe, expect, it } from 'vitest';
import { decideReplay, formatPlan, parseReplayTarget, planReplay, REPLAY_EXIT } from '../../shared/operations/replay-plan.js';
import { parseDateTime, parseDuration, parseInstant, UsageError } from '../../shared/operations/time-spec.js';

const parse = { dateTime: parseDateTime, duration: parseDuration };

describe('replay planning', () => {
  const partitions = [
    { partition: 1, committed: 40, low: 0, high: 50 },
    { partition: 0, committed: 100, low: 20, high: 120 },
  ];

  it('counts per partition the records processed again and the lag before and after', () => {
    const plan = planReplay(partitions, new Map([[0, 70], [1, 10]]));
    expect(plan.partitions.map((p) => [p.partition, p.current, p.target, p.reprocess, p.lagNow, p.lagAfter])).toEqual([
      [0, 100, 70, 30, 20, 50],
      [1, 40, 10, 30, 10, 40],
    ]);
    expect(plan.totalReprocess).toBe(60);
    expect(plan.totalSkip).toBe(0);
  });

  it('leaves partitions without a target where they are', () => {
    const plan = planReplay(partitions, new Map([[1, 35]]));
    expect(plan.changes.map((p) => p.partition)).toEqual([1]);
    expect(plan.partitions[0]).toMatchObject({ partition: 0, change: false, target: 100 });
  });

  it('clamps a target below the retained log to its first offset and says so', () => {
    const plan = planReplay(partitions, new Map([[0, 5]]));
    expect(plan.partitions[0]).toMatchObject({ target: 20, reprocess: 80 });
    expect(plan.partitions[0]?.note).toMatch(/first retained offset 20/);
  });

  it('counts records skipped when the target is ahead of the group', () => {
    const plan = planReplay(partitions, new Map([[1, 50]]));
    expect(plan.partitions[1]).toMatchObject({ reprocess: 0, skip: 10, lagAfter: 0 });
  });

  it('uses each partition low watermark for --to-earliest', () => {
    const plan = planReplay(partitions, 'earliest');
    expect(plan.partitions.map((p) => p.target)).toEqual([20, 0]);
  });

  it('plans a partition the group never committed on, without claiming records processed again', () => {
    const plan = planReplay([{ partition: 0, committed: null, low: 0, high: 9 }], 'earliest');
    expect(plan.changes).toHaveLength(1);
    expect(plan.partitions[0]).toMatchObject({ reprocess: null, lagAfter: 9 });
  });

  it('rejects a partition the topic does not have', () => {
    expect(() => planReplay(partitions, new Map([[7, 1]]))).toThrow(UsageError);
  });

  it('is refused while the group has members, whatever the plan', () => {
    const plan = planReplay(partitions, new Map([[0, 70]]));
    expect(decideReplay(plan, 2, true)).toBe('refused');
    expect(decideReplay(plan, 0, false)).toBe('planned');
    expect(decideReplay(plan, 0, true)).toBe('apply');
  });

  it('has nothing to do when every partition is already at its target', () => {
    const plan = planReplay(partitions, new Map([[0, 100], [1, 40]]));
    expect(decideReplay(plan, 0, true)).toBe('nothing-to-do');
  });

  it('gives refused, nothing to do and applied different exit codes', () => {
    const codes = [REPLAY_EXIT.refused, REPLAY_EXIT['nothing-to-do'], REPLAY_EXIT.applied];
    expect(new Set(codes).size).toBe(3);
  });

  it('prints one row per partition under a header', () => {
    const lines = formatPlan(planReplay(partitions, new Map([[0, 70]])));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^partition\s+current\s+target\s+reprocess/);
    expect(lines[1]).toMatch(/^0\s+100\s+70\s+30/);
    expect(lines[2]).toMatch(/\(unchanged\)/);
  });
});

describe('replay targets', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('turns --by-duration into the time that long ago', () => {
    const target = parseReplayTarget({ 'by-duration': '1h30m' }, now, parse);
    expect(target).toMatchObject({ kind: 'datetime', at: Date.parse('2024-05-01T10:30:00Z') });
  });

  it('accepts an ISO time with an offset and refuses one without a zone', () => {
    expect(parseReplayTarget({ 'to-datetime': '2024-05-01T12:00:00+02:00' }, now, parse)).toMatchObject({
      at: Date.parse('2024-05-01T10:00:00Z'),
    });
    expect(() => parseReplayTarget({ 'to-datetime': '2024-05-01T12:00:00' }, now, parse)).toThrow(/zone/);
  });

  it('collects repeated --to-offset PARTITION:OFFSET and refuses a partition given twice', () => {
    const target = parseReplayTarget({ 'to-offset': ['0:5', '3:1200'] }, now, parse);
    expect(target).toEqual({ kind: 'offsets', offsets: new Map([[0, 5], [3, 1200]]) });
    expect(() => parseReplayTarget({ 'to-offset': ['0:5', '0:6'] }, now, parse)).toThrow(/twice/);
    expect(() => parseReplayTarget({ 'to-offset': ['a:5'] }, now, parse)).toThrow(/PARTITION:OFFSET/);
  });

  it('requires exactly one target option', () => {
    expect(() => parseReplayTarget({}, now, parse)).toThrow(/exactly one/);
    expect(() => parseReplayTarget({ 'to-earliest': true, 'by-duration': '5m' }, now, parse)).toThrow(/exactly one/);
  });
});

describe('times and durations', () => {
  it('parses compound durations and refuses bare numbers', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(() => parseDuration('15')).toThrow(UsageError);
  });

  it('reads an instant as a time or as a duration ago', () => {
    const now = 1_000_000_000;
    expect(parseInstant('10m', now)).toBe(now - 600_000);
    expect(parseInstant('2024-05-01T00:00:00Z', now)).toBe(Date.parse('2024-05-01T00:00:00Z'));
  });
});
