import { describe, expect, it } from 'vitest';
import { crashMidStream } from './crash-scenario.js';

describe('fulfillment killed mid-stream (at-least-once)', () => {
  it('gives every callback a result after a SIGKILL and restart, repeating only callbacks above the committed offset', { timeout: 240_000 }, async () => {
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
      // Above the committed offset the restart processes again: a second result and a second call.
      expect(uncommitted.filter((id) => count(id) < 2)).toEqual([]);
      expect(uncommitted.filter((id) => (run.callCounts.get(id) ?? 0) < 2)).toEqual([]);
      // Below it nothing repeats.
      expect(committed.filter((id) => count(id) !== 1)).toEqual([]);
      expect(run.eventIds.filter((id) => count(id) > 1 && run.committedAtKill(id))).toEqual([]);
      expect(run.secondExitCode).toBe(0);
    } finally {
      await run.h.stop();
    }
  });
});
