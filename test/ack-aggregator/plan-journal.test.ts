import { describe, expect, it } from 'vitest';
import { outcomeRecord, planRecord, type PendingAck } from '../../services/ack-aggregator/batching.js';
import { PlanJournal } from '../../services/ack-aggregator/plan-journal.js';

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
    journal.add(plan, false);
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
    const mine = journal.add(open, true);
    journal.merge([accepted, open, outcomeRecord(accepted, 'ACCEPTED', { processedCount: 5, failedCount: 0, latencyMs: 1 }, new Date())]);
    expect(journal.covering('results', 0, 2)?.outcome).toBe('ACCEPTED');
    expect(journal.covering('results', 0, 7)).toBe(mine);
    expect(mine.own).toBe(true);
    expect(mine.outcome).toBeNull();
  });

  it('ignores an outcome whose plan it never saw', () => {
    const journal = new PlanJournal<string>();
    const plan = planRecord(entries(0, 0, 1), new Date());
    journal.merge([outcomeRecord(plan, 'DEAD_LETTERED', { processedCount: null, failedCount: null, latencyMs: 1 }, new Date())]);
    expect(journal.size).toBe(0);
  });
});
