import { describe, expect, it } from 'vitest';
import { Header } from '../../shared/headers.js';
import { makeCallback, startHarness } from './support.js';

describe('fulfillment ordering against the real broker', () => {
  it('keeps every session in send order with concurrency well above the partition count', { timeout: 180_000 }, async () => {
    const sessions = 200;
    const perSession = 20;
    const h = await startHarness({ TOPIC_PARTITIONS: '6', FULFILLMENT_MAX_IN_FLIGHT: '64' });
    try {
      h.simulator.downstream.setFaults({ latencyMs: 1, latencyJitterMs: 20 });
      const sequenceOf = new Map<string, number>();
      const sent: string[] = [];
      // Interleaved: callback n of every session before callback n+1 of any.
      for (let n = 0; n < perSession; n += 1) {
        const round = Array.from({ length: sessions }, (_, s) => makeCallback({ sessionId: `order-${s}` }));
        for (const callback of round) {
          sequenceOf.set(callback.eventId, n);
          sent.push(callback.eventId);
        }
        await h.send(round);
      }

      await h.waitForResults(sent, 150_000);
      const bySession = new Map<string, { partition: number; offset: bigint; n: number }[]>();
      for (const { record, result } of await h.results()) {
        const entry = { partition: record.partition, offset: BigInt(record.offset), n: sequenceOf.get(result.eventId)! };
        bySession.set(result.sessionId, [...(bySession.get(result.sessionId) ?? []), entry]);
        expect(record.headers[Header.eventId]).toBe(result.eventId);
      }
      expect(bySession.size).toBe(sessions);
      for (const [, entries] of bySession) {
        // A session's results share one partition; their offsets give the order they were written in.
        expect(new Set(entries.map((e) => e.partition)).size).toBe(1);
        const written = [...entries].sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((e) => e.n);
        expect(written).toEqual(Array.from({ length: perSession }, (_, n) => n));
      }
      // Far more calls ran at once than there are partitions.
      expect(h.simulator.downstream.maxInFlight).toBeGreaterThan(3 * 6);
    } finally {
      await h.stop();
    }
  });
});
