/**
 * When the pipeline has drained after the load stopped: every group's consumer lag is 0 and the
 * counts (results written, events acknowledged) have not moved for a while. The lag gauges are
 * refreshed every 10 s by the services, so "a while" spans more than one refresh.
 */
import { CONSUMING_SERVICES, type Sample } from './samples.js';

export interface DrainSettings {
  /** Counts unchanged this long, with zero lag: drained. */
  stableS: number;
  /** Counts unchanged this long with lag left: stuck, stop waiting. */
  stuckS: number;
}

export const DRAIN_SETTINGS: DrainSettings = { stableS: 12, stuckS: 60 };

export type DrainDecision = { drained: true; reason: string } | { drained: false; reason: string };

/** Decides from the samples taken since sending stopped; undefined while it is too early to say. Pure. */
export function drainDecision(samples: readonly Sample[], settings: DrainSettings = DRAIN_SETTINGS): DrainDecision | undefined {
  const last = samples.at(-1);
  if (last === undefined) return undefined;
  let since = last;
  for (let i = samples.length - 1; i >= 0; i -= 1) {
    const s = samples[i] as Sample;
    if (s.totals.results !== last.totals.results || s.totals.acknowledged !== last.totals.acknowledged) break;
    since = s;
  }
  const stableS = last.elapsedS - since.elapsedS;
  const lags = CONSUMING_SERVICES.map((group) => last.consumerLag[group] ?? null);
  const describe = CONSUMING_SERVICES.map((group, i) => `${group} ${lags[i] ?? 'unknown'}`).join(', ');
  if (lags.every((lag) => lag === 0) && stableS >= settings.stableS) {
    return { drained: true, reason: `consumer lag 0 and counts unchanged for ${stableS.toFixed(0)} s` };
  }
  if (stableS >= settings.stuckS) return { drained: false, reason: `no progress for ${stableS.toFixed(0)} s with consumer lag ${describe}` };
  return undefined;
}

/** Polls the sampler's drain-phase samples until a decision or the deadline. */
export async function waitForDrain(samples: () => readonly Sample[], timeoutMs: number): Promise<DrainDecision & { afterMs: number }> {
  const started = Date.now();
  for (;;) {
    const decision = drainDecision(samples().filter((s) => s.phase === 'drain'));
    if (decision !== undefined) return { ...decision, afterMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      return { drained: false, reason: `not drained within ${Math.round(timeoutMs / 1_000)} s`, afterMs: Date.now() - started };
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
