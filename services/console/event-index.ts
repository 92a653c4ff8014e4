import type { AckBatch, FulfillmentResult } from '../../shared/contracts.js';
import { Header } from '../../shared/headers.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';
import type { BatchRow, BatchesView, EventPath } from './views.js';

interface EventEntry {
  accepted?: EventPath['accepted'];
  results: EventPath['results'];
  /** Batch id -> the item's place and status in it. */
  batches: Map<string, { sequenceIndex: number; status: string }>;
}

/** Batches kept for the list and the event path, the newest. */
const MAX_BATCHES = 10_000;

/**
 * Where each event went, from what the followers read: its callback on the callbacks topic, its
 * results, the batches that acknowledged it and Cognigy's answer. Bounded: past `maxEvents` the
 * event first seen longest ago is forgotten.
 */
export class EventIndex {
  private readonly events = new Map<string, EventEntry>();
  private readonly batches = new Map<string, BatchRow>();

  constructor(private readonly maxEvents: number) {}

  callback(record: ConsumedRecord): void {
    const eventId = record.headers[Header.eventId];
    if (eventId === undefined) return;
    this.entry(eventId).accepted = {
      at: new Date(record.timestamp).toISOString(),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      sessionId: record.key?.toString() ?? null,
    };
  }

  result(record: ConsumedRecord, result: FulfillmentResult): void {
    const results = this.entry(result.eventId).results;
    if (results.some((r) => r.partition === record.partition && r.offset === record.offset)) return;
    results.push({
      at: new Date(record.timestamp).toISOString(),
      partition: record.partition,
      offset: record.offset,
      route: result.route,
      ackStatus: result.ackStatus,
      attempts: result.attempts,
      latencyMs: result.latencyMs,
    });
  }

  batch(batch: AckBatch): void {
    if (batch.phase === 'PLANNED') {
      if (!this.batches.has(batch.batchId)) {
        this.batches.set(batch.batchId, {
          batchId: batch.batchId,
          idempotencyKey: batch.idempotencyKey,
          size: batch.batchSize,
          phase: 'PLANNED',
          plannedAt: batch.at,
          resolvedAt: null,
          latencyMs: null,
          processedCount: null,
          failedCount: null,
          ackRate: null,
        });
        if (this.batches.size > MAX_BATCHES) this.batches.delete(this.batches.keys().next().value as string);
      }
      for (const item of batch.statusMatrix) {
        this.entry(item.webhookId).batches.set(batch.batchId, { sequenceIndex: item.sequenceIndex, status: item.status });
      }
      return;
    }
    const row = this.batches.get(batch.batchId);
    if (row === undefined) return;
    row.phase = batch.phase;
    row.resolvedAt = batch.at;
    row.latencyMs = batch.latencyMs;
    row.processedCount = batch.processedCount;
    row.failedCount = batch.failedCount;
    row.ackRate = batch.processedCount === null || row.size === 0 ? null : batch.processedCount / row.size;
  }

  /** The newest `limit` batches, newest first. */
  recentBatches(limit: number): BatchesView {
    const batches = [...this.batches.values()].slice(-limit).reverse();
    const answered = batches.filter((b) => b.processedCount !== null);
    const size = answered.reduce((n, b) => n + b.size, 0);
    const processed = answered.reduce((n, b) => n + (b.processedCount ?? 0), 0);
    return { batches, ackRate: size === 0 ? null : processed / size };
  }

  path(eventId: string): Omit<EventPath, 'deadLetters'> {
    const entry = this.events.get(eventId);
    if (entry === undefined) return { eventId, found: false, accepted: null, results: [], batches: [] };
    const batches = [...entry.batches].flatMap(([batchId, item]) => {
      const row = this.batches.get(batchId);
      if (row === undefined) return [];
      return [
        {
          batchId,
          idempotencyKey: row.idempotencyKey,
          phase: row.phase,
          at: row.resolvedAt ?? row.plannedAt,
          sequenceIndex: item.sequenceIndex,
          status: item.status,
          latencyMs: row.latencyMs,
          processedCount: row.processedCount,
          failedCount: row.failedCount,
        },
      ];
    });
    return { eventId, found: true, accepted: entry.accepted ?? null, results: entry.results, batches };
  }

  get size(): number {
    return this.events.size;
  }

  private entry(eventId: string): EventEntry {
    let entry = this.events.get(eventId);
    if (entry === undefined) {
      entry = { results: [], batches: new Map() };
      this.events.set(eventId, entry);
      if (this.events.size > this.maxEvents) this.events.delete(this.events.keys().next().value as string);
    }
    return entry;
  }
}
