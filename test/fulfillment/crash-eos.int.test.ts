import { describe, expect, it } from 'vitest';
import { crashMidStream } from './crash-scenario.js';

describe('fulfillment killed mid-stream (EXACTLY_ONCE=true)', () => {
  it('shows a read_committed reader each result exactly once after a SIGKILL and restart', { timeout: 240_000 }, async () => {
    const run = await crashMidStream(true);
    try {
      const counts = run.eventIds.map((id) => run.countsByEvent.get(id) ?? 0);
      expect(counts.filter((n) => n !== 1)).toEqual([]);
      expect(run.countsByEvent.size).toBe(run.eventIds.length);
      expect(run.secondExitCode).toBe(0);
    } finally {
      await run.h.stop();
    }
  });
});
