import { describe, expect, it } from 'vitest';
import type { AckItem } from '../../services/ack-aggregator/ack-items.js';
import {
  ackRequest,
  batchIdentity,
  outcomeRecord,
  planBatches,
  planRecord,
  rangesOf,
  statusMatrixOf,
  type PendingAck,
} from '../../services/ack-aggregator/batching.js';

const limits = { maxBatch: 500, windowMs: 5_000 };

function acks(count: number, opts: { arrivedAt?: number; partitions?: number; topic?: string } = {}): PendingAck<null>[] {
  const partitions = opts.partitions ?? 1;
  return Array.from({ length: count }, (_, i) => ({
    topic: opts.topic ?? 'results',
    partition: i % partitions,
    offset: Math.floor(i / partitions),
    arrivedAt: opts.arrivedAt ?? 1_000,
    item: { webhookId: `w-${i}`, status: 'ACKNOWLEDGED', errorDirective: null } satisfies AckItem,
    source: null,
  }));
}

describe('planBatches', () => {
  it('cuts 1,250 items arriving at once into 500 and 500 at once, and 250 when the window ends', () => {
    const pending = acks(1_250);
    const atOnce = planBatches(pending, limits, 1_000);
    expect(atOnce.batches.map((b) => b.length)).toEqual([500, 500]);
    expect(atOnce.rest).toHaveLength(250);
    expect(atOnce.closesAt).toBe(6_000);

    expect(planBatches(atOnce.rest, limits, 5_999).batches).toHaveLength(0);
    const later = planBatches(atOnce.rest, limits, 6_000);
    expect(later.batches.map((b) => b.length)).toEqual([250]);
    expect(later.closesAt).toBeNull();
  });

  it('closes a window ACK_WINDOW_MS after its first item, whatever arrived since', () => {
    const pending = [...acks(3, { arrivedAt: 1_000 }), ...acks(2, { arrivedAt: 5_500 })];
    const decision = planBatches(pending, limits, 6_000);
    expect(decision.batches.map((b) => b.length)).toEqual([5]);
  });

  it('keeps items inside an open window', () => {
    const decision = planBatches(acks(10, { arrivedAt: 1_000 }), limits, 2_000);
    expect(decision.batches).toHaveLength(0);
    expect(decision.rest).toHaveLength(10);
    expect(decision.closesAt).toBe(6_000);
  });

  it('flushes the open window on shutdown', () => {
    expect(planBatches(acks(7), limits, 1_000, true).batches.map((b) => b.length)).toEqual([7]);
    expect(planBatches([], limits, 1_000, true).batches).toEqual([]);
  });
});

describe('rangesOf', () => {
  it('spans first to last offset per partition, sorted', () => {
    const entries = [
      { topic: 't', partition: 2, offset: 7 },
      { topic: 't', partition: 0, offset: 4 },
      { topic: 't', partition: 2, offset: 9 },
      { topic: 't', partition: 0, offset: 5 },
    ];
    expect(rangesOf(entries)).toEqual([
      { topic: 't', partition: 0, fromOffset: 4, toOffset: 5 },
      { topic: 't', partition: 2, fromOffset: 7, toOffset: 9 },
    ]);
  });
});

describe('batchIdentity', () => {
  const ranges = [
    { topic: 't', partition: 0, fromOffset: 0, toOffset: 499 },
    { topic: 't', partition: 1, fromOffset: 10, toOffset: 20 },
  ];

  it('is the same for the same offset ranges, every time', () => {
    expect(batchIdentity(ranges)).toEqual(batchIdentity(ranges.map((r) => ({ ...r }))));
    expect(batchIdentity(ranges).idempotencyKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs when any boundary differs', () => {
    const moved = [ranges[0]!, { ...ranges[1]!, toOffset: 21 }];
    expect(batchIdentity(moved).idempotencyKey).not.toBe(batchIdentity(ranges).idempotencyKey);
    const otherTopic = ranges.map((r) => ({ ...r, topic: 'u' }));
    expect(batchIdentity(otherTopic).idempotencyKey).not.toBe(batchIdentity(ranges).idempotencyKey);
  });

  it('does not depend on when or by whom the batch is planned', () => {
    const entries = acks(20, { partitions: 2 });
    const first = planRecord(entries, new Date('2025-01-01T00:00:00Z'));
    const again = planRecord(
      entries.map((e) => ({ ...e, arrivedAt: 99 })),
      new Date('2026-06-01T00:00:00Z'),
    );
    expect(again.idempotencyKey).toBe(first.idempotencyKey);
    expect(again.batchId).toBe(first.batchId);
  });
});

describe('statusMatrixOf', () => {
  it('numbers items from 0 in arrival order', () => {
    const matrix = statusMatrixOf(acks(3).map((a) => a.item));
    expect(matrix.map((i) => [i.webhookId, i.sequenceIndex])).toEqual([
      ['w-0', 0],
      ['w-1', 1],
      ['w-2', 2],
    ]);
  });

  it('sends a duplicated webhookId once, with its latest status', () => {
    const items: AckItem[] = [
      { webhookId: 'a', status: 'REJECTED', errorDirective: 'ENGINE_UNREACHABLE' },
      { webhookId: 'b', status: 'ACKNOWLEDGED', errorDirective: null },
      { webhookId: 'a', status: 'ACKNOWLEDGED', errorDirective: null },
    ];
    expect(statusMatrixOf(items)).toEqual([
      { webhookId: 'a', sequenceIndex: 0, status: 'ACKNOWLEDGED', errorDirective: null },
      { webhookId: 'b', sequenceIndex: 1, status: 'ACKNOWLEDGED', errorDirective: null },
    ]);
  });
});

describe('plan, outcome and request', () => {
  it('builds the request from the plan alone, omitting absent directives', () => {
    const entries = acks(2);
    entries[1]!.item = { webhookId: 'w-1', status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' };
    const plan = planRecord(entries, new Date('2025-01-01T00:00:00Z'));
    expect(plan).toMatchObject({ phase: 'PLANNED', batchSize: 2, items: [{ topic: 'results', partition: 0, fromOffset: 0, toOffset: 1 }] });
    expect(ackRequest(plan)).toEqual({
      idempotencyKey: plan.idempotencyKey,
      batchSize: 2,
      timestamp: '2025-01-01T00:00:00.000Z',
      statusMatrix: [
        { webhookId: 'w-0', sequenceIndex: 0, status: 'ACKNOWLEDGED' },
        { webhookId: 'w-1', sequenceIndex: 1, status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' },
      ],
    });
  });

  it('records the outcome under the same batch id and key, without the items', () => {
    const plan = planRecord(acks(3), new Date());
    const outcome = outcomeRecord(plan, 'ACCEPTED', { processedCount: 3, failedCount: 0, latencyMs: 40 }, new Date());
    expect(outcome).toMatchObject({ batchId: plan.batchId, idempotencyKey: plan.idempotencyKey, phase: 'ACCEPTED', processedCount: 3, statusMatrix: [] });
  });
});
