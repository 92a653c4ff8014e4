import { randomUUID } from 'node:crypto';
import { DedupWindow } from '../shared/dedup-window.js';
import { describeMachine } from './machine.js';

const RATE = 1_000; // callbacks per second, on a simulated clock
const WINDOW_S = 300; // INGRESS_DEDUP_WINDOW_S's default
const SECONDS = 600; // the window fills, then turns over once completely

interface Store {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  readonly size: number;
}

/**
 * One map with an expiry per key, evicted from its front: the obvious design, for comparison.
 * Every eviction iterates from the map's start over the holes earlier deletions left.
 */
class SingleMapWindow implements Store {
  private readonly entries = new Map<string, { expiresAt: number; value: unknown }>();
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}
  get size(): number {
    return this.entries.size;
  }
  get(key: string): unknown {
    const entry = this.entries.get(key);
    return entry !== undefined && entry.expiresAt > this.now() ? entry.value : undefined;
  }
  set(key: string, value: unknown): void {
    const now = this.now();
    for (const [k, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(k);
    }
    this.entries.set(key, { expiresAt: now + this.windowMs, value });
  }
}

interface Outcome {
  name: string;
  nsPerCallback: number;
  steadyNsPerCallback: number;
  slowest: number[];
  size: number;
}

/** What the ingress does per callback: look the event id up, then remember it. */
function drive(name: string, store: Store, keys: string[], clock: { now: number }): Outcome {
  const value = 'a correlation id';
  const pauses: number[] = [];
  const started = performance.now();
  let steadyFrom = 0;
  for (let i = 0; i < keys.length; i += 1) {
    clock.now = Math.floor((i * 1_000) / RATE);
    if (i === WINDOW_S * RATE) steadyFrom = performance.now();
    const t = performance.now();
    if (store.get(keys[i]!) === undefined) store.set(keys[i]!, value);
    pauses.push(performance.now() - t);
  }
  const ended = performance.now();
  const steady = keys.length - WINDOW_S * RATE;
  return {
    name,
    nsPerCallback: ((ended - started) * 1e6) / keys.length,
    steadyNsPerCallback: ((ended - steadyFrom) * 1e6) / steady,
    slowest: pauses.sort((a, b) => b - a).slice(0, 3),
    size: store.size,
  };
}

/**
 * `npm run bench -- dedup`: the ingress's event-id window at a full window (300 s at 1,000
 * callbacks/s, then as many again so every key expires once), against a bare Map that only grows
 * (the floor: one lookup and one insert) and a single map expiring key by key.
 */
export async function run(): Promise<void> {
  const keys = Array.from({ length: SECONDS * RATE }, () => randomUUID());
  const results: Outcome[] = [];
  for (const [name, make] of [
    ['bare Map, no expiry (baseline)', () => new Map<string, unknown>()],
    ['DedupWindow (generations)', (clock: { now: number }) => new DedupWindow<unknown>(WINDOW_S * 1_000, 500_000, () => clock.now)],
    ['one map, per-key expiry', (clock: { now: number }) => new SingleMapWindow(WINDOW_S * 1_000, () => clock.now)],
  ] as const) {
    const clock = { now: 0 };
    results.push(drive(name, make(clock), keys, clock));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const baseline = results[0]!;
  console.log(`\ndedup window benchmark on ${describeMachine()}`);
  console.log(`${RATE} callbacks/s on a simulated clock, window ${WINDOW_S} s, ${keys.length} distinct event ids (the window turns over once)`);
  console.log('| store | ns per callback (all) | ns per callback (full window) | x baseline (full window) | slowest single callbacks, ms | keys held at the end |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.nsPerCallback.toFixed(0)} | ${r.steadyNsPerCallback.toFixed(0)} | ${(r.steadyNsPerCallback / baseline.steadyNsPerCallback).toFixed(1)} | ${r.slowest.map((p) => p.toFixed(1)).join(' / ')} | ${r.size} |`,
    );
  }
}
