import { describe, expect, it } from 'vitest';
import { outcomeRecord, planRecord, type PendingAck } from '../../services/ack-aggregator/batching.js';
import { PlanJournal } from '../../services/ack-aggregator/plan-journal.js';
import { take } from '../../services/ack-aggregator/plan-lifecycle.js';

const entries = (partition: number, from: number, to: number): PendingAck[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    topic: 'results',
    partition,
    offset: from + i,
    arrivedAt: 0,
    item: { webhookId: `w-${partition}-${from + i}`, status: 'ACKNOWLEDGED', errorDirective: null },
    source: null,
  }));

describe('PlanJournal', () => {
  it('finds the plan that covers a delivered offset, gaps inside a range included', () => {
    const journal = new PlanJournal<string>();
    const plan = planRecord([...entries(0, 10, 12), ...entries(0, 15, 15), ...entries(3, 0, 1)], new Date());
    journal.merge([plan]);
    expect(journal.covering('results', 0, 13)?.plan.batchId).toBe(plan.batchId);
    expect(journal.covering('results', 3, 1)?.plan.batchId).toBe(plan.batchId);
    expect(journal.covering('results', 0, 16)).toBeUndefined();
    expect(journal.covering('results', 1, 11)).toBeUndefined();
    expect(journal.covering('other', 0, 11)).toBeUndefined();
  });

  it('merges read-back plans with their outcomes, and keeps its own state for plans it knows', () => {
    const journal = new PlanJournal<string>();
    const accepted = planRecord(entries(0, 0, 4), new Date());
    const open = planRecord(entries(0, 5, 9), new Date());
    const mine = journal.cut(open);
    journal.merge([accepted, open, outcomeRecord(accepted, 'ACCEPTED', { processedCount: 5, failedCount: 0, latencyMs: 1 }, new Date())]);
    expect(journal.covering('results', 0, 2)?.phase).toEqual({ kind: 'recorded', outcome: 'ACCEPTED', inHand: false });
    expect(journal.covering('results', 0, 7)).toBe(mine);
    expect(mine.phase).toEqual({ kind: 'planned', onTopic: false });
  });

  it('keeps the items of a plan in hand when its outcome is read back, and only the ranges of one it never sent', () => {
    const journal = new PlanJournal<string>();
    const sent = planRecord(entries(0, 0, 4), new Date());
    const elsewhere = planRecord(entries(1, 0, 4), new Date());
    journal.merge([sent, elsewhere]);
    const inHand = journal.covering('results', 0, 0);
    inHand?.advance(take);
    const done = { processedCount: 5, failedCount: 0, latencyMs: 1 };
    journal.merge([outcomeRecord(sent, 'ACCEPTED', done, new Date()), outcomeRecord(elsewhere, 'ACCEPTED', done, new Date())]);
    expect(inHand?.phase).toEqual({ kind: 'recorded', outcome: 'ACCEPTED', inHand: true });
    expect(inHand?.plan.statusMatrix).toHaveLength(5);
    expect(journal.covering('results', 1, 2)?.plan.statusMatrix).toEqual([]);
    expect(journal.covering('results', 1, 2)?.plan.items).toEqual(elsewhere.items);
  });

  it('returns the known entry when this process cuts a plan it already knows', () => {
    const journal = new PlanJournal<string>();
    const plan = planRecord(entries(0, 0, 1), new Date());
    journal.merge([plan]);
    const known = journal.covering('results', 0, 0);
    expect(journal.cut(plan)).toBe(known);
    expect(known?.phase).toEqual({ kind: 'planned', onTopic: true });
    expect(journal.size).toBe(1);
  });

  it('moves an entry only through the lifecycle transitions', () => {
    const journal = new PlanJournal<string>();
    const entry = journal.cut(planRecord(entries(0, 0, 1), new Date()));
    entry.advance(take);
    expect(entry.phase).toEqual({ kind: 'submitting', planRecord: 'unwritten' });
    expect(() => entry.advance(take)).toThrow(/taken in hand/);
    expect(entry.phase).toEqual({ kind: 'submitting', planRecord: 'unwritten' });
  });

  it('ignores an outcome whose plan it never saw', () => {
    const journal = new PlanJournal<string>();
    const plan = planRecord(entries(0, 0, 1), new Date());
    journal.merge([outcomeRecord(plan, 'DEAD_LETTERED', { processedCount: null, failedCount: null, latencyMs: 1 }, new Date())]);
    expect(journal.size).toBe(0);
  });
});
