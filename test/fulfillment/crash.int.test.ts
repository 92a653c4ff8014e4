import { describe, expect, it } from 'vitest';
import { crashMidStream } from './crash-scenario.js';

describe('fulfillment killed mid-stream (at-least-once)', () => {
  it('gives every callback a result after a SIGKILL and restart; what was written above the committed offset is not repeated', { timeout: 240_000 }, async () => {
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
      // Above the committed offset the restart reads them again, but each result went out with its
      // dedup changelog record: the restored store knows them, so no second result and no second call.
      expect(uncommitted.filter((id) => count(id) !== 1)).toEqual([]);
      expect(uncommitted.filter((id) => (run.callCounts.get(id) ?? 0) !== 1)).toEqual([]);
      // Below it nothing repeats.
      expect(committed.filter((id) => count(id) !== 1)).toEqual([]);
      expect(run.eventIds.filter((id) => count(id) > 1 && run.committedAtKill(id))).toEqual([]);
      expect(run.secondExitCode).toBe(0);
    } finally {
      await run.h.stop();
    }
  });
});
