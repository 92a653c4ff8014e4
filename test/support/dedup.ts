import { pino } from 'pino';
import { DedupState } from '../../shared/stage/dedup-store.js';

/** The dedup store's memory without a changelog reader: restoring finds nothing to read. */
export function testDedup(windowMs = 60_000): DedupState & { restored(): Promise<void> } {
  const state = new DedupState({ topic: 'test.dedup', windowMs, maxEntries: 10_000, logger: pino({ level: 'silent' }) });
  return Object.assign(state, { restored: async () => undefined });
}
