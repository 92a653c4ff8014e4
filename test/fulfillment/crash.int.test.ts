import { describe, expect, it } from 'vitest';
import { crashMidStream } from './crash-scenario.js';

describe('fulfillment killed mid-stream (at-least-once)', () => {
  it('gives every callback a result after a SIGKILL and restart, repeating only callbacks above the committed offset', { timeout: 240_000 }, async () => {
    const run = await crashMidStream(false);
    try {
      for (const eventId of run.eventIds) expect(run.countsByEvent.get(eventId) ?? 0).toBeGreaterThanOrEqual(1);
      const repeated = run.eventIds.filter((id) => run.countsByEvent.get(id)! > 1);
      for (const eventId of repeated) {
        const { partition, offset } = run.inputOffset.get(eventId)!;
        expect(offset).toBeGreaterThanOrEqual(run.committedAtKill.get(partition) ?? 0n);
      }
      expect(run.secondExitCode).toBe(0);
    } finally {
      await run.h.stop();
    }
  });
});
