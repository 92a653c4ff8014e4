import { it, expect } from 'vitest';
import { crashMidStream } from './crash-scenario.js';
it('alo shows duplicates', { timeout: 240_000 }, async () => {
  const run = await crashMidStream(false);
  const dups = run.eventIds.filter((id) => (run.countsByEvent.get(id) ?? 0) > 1).length;
  console.log('duplicates', dups, 'resultsAtKill', run.resultsAtKill, 'committed', [...run.committedAtKill]);
  await run.h.stop();
  expect(dups).toBeGreaterThan(0);
});
