import { describe, expect, it } from 'vitest';
import { crashMidStream } from './crash-scenario.js';

describe('fulfillment killed mid-stream (EXACTLY_ONCE=true)', () => {
  it('shows a read_committed reader each result exactly once after a SIGKILL and restart', { timeout: 240_000 }, async () => {
    const run = await crashMidStream(true);
    try {
      // The kill left callbacks called downstream above the committed offset: their results were
      // in no committed transaction, and the restart called them again.
      const redone = [...run.calledBeforeRestart].filter((id) => !run.committedAtKill(id));
      expect(redone.length).toBeGreaterThan(0);
      expect(redone.filter((id) => (run.callCounts.get(id) ?? 0) < 2)).toEqual([]);
      // A result the first process made visible came with its input offset's commit.
      expect([...run.resultedBeforeRestart].filter((id) => !run.committedAtKill(id))).toEqual([]);

      const counts = run.eventIds.map((id) => run.resultCounts.get(id) ?? 0);
      expect(counts.filter((n) => n !== 1)).toEqual([]);
      expect(run.resultCounts.size).toBe(run.eventIds.length);
      expect(run.secondExitCode).toBe(0);
    } finally {
      await run.h.stop();
    }
  });
});
