import { describe, expect, it } from 'vitest';
import { crashMidStream } from './crash-scenario.js';

describe('fulfillment killed mid-stream (at-least-once)', () => {
  it('gives every callback a result after a SIGKILL and restart; what was written above the committed offset with its dedup entry is not repeated', { timeout: 240_000 }, async () => {
    const run = await crashMidStream(false);
    try {
      const count = (eventId: string) => run.resultCounts.get(eventId) ?? 0;
      const writtenBeforeKill = [...run.resultedBeforeRestart];
      const uncommitted = writtenBeforeKill.filter((id) => !run.committedAtKill(id));
      const committed = writtenBeforeKill.filter((id) => run.committedAtKill(id));
      // The kill left results on both sides of the committed offset.
      expect(uncommitted.length).toBeGreaterThan(0);
      expect(committed.length).toBeGreaterThan(0);

      expect(run.eventIds.filter((id) => count(id) === 0)).toEqual([]);
      // Above the committed offset the restart reads them again. A result's dedup entry is written
      // once the result is durable (never before: an entry without its result would lose the
      // callback), so the restored store knows those whose entry followed before the kill: no second
      // result and no second call. A result the kill caught before its entry is repeated, once.
      const remembered = uncommitted.filter((id) => run.dedupEntryBeforeRestart.has(id));
      expect(remembered.length).toBeGreaterThan(0);
      expect(remembered.filter((id) => count(id) !== 1)).toEqual([]);
      expect(remembered.filter((id) => (run.callCounts.get(id) ?? 0) !== 1)).toEqual([]);
      expect(uncommitted.filter((id) => count(id) > 2)).toEqual([]);
      // Every entry the first process wrote belongs to a result it wrote.
      expect([...run.dedupEntryBeforeRestart].filter((id) => !writtenBeforeKill.includes(id))).toEqual([]);
      // Below it nothing repeats.
      expect(committed.filter((id) => count(id) !== 1)).toEqual([]);
      expect(run.eventIds.filter((id) => count(id) > 1 && run.committedAtKill(id))).toEqual([]);
      expect(run.secondExitCode).toBe(0);
    } finally {
      await run.h.stop();
    }
  });
});
