/**
 * Confidence routing: which callbacks are sent to the downstream service and which are answered
 * FALLBACK (a clarification) without a call. Pure: data in, data out.
 */

export interface Thresholds {
  /** CONFIDENCE_THRESHOLD, for every intent without an override. */
  default: number;
  /** CONFIDENCE_THRESHOLDS, per-intent overrides. */
  byIntent: ReadonlyMap<string, number>;
}

export type RouteDecision =
  /** `threshold` is null when the callback carried no confidence (flow execution, action trigger). */
  | { route: 'downstream'; threshold: number | null }
  | { route: 'fallback'; threshold: number };

export function thresholdFor(intent: string | null, thresholds: Thresholds): number {
  return (intent !== null ? thresholds.byIntent.get(intent) : undefined) ?? thresholds.default;
}

/**
 * Confidence present and at or above the intent's threshold -> downstream; below -> fallback.
 * Events without a confidence are not NLU results, so they always take the downstream call.
 */
export function route(callback: { intent: string | null; confidence: number | null }, thresholds: Thresholds): RouteDecision {
  if (callback.confidence === null) return { route: 'downstream', threshold: null };
  const threshold = thresholdFor(callback.intent, thresholds);
  // NaN compares false, so a nonsense confidence is treated as too low rather than trusted.
  return callback.confidence >= threshold ? { route: 'downstream', threshold } : { route: 'fallback', threshold };
}

/**
 * Parses `book_flight=0.9,greeting=0.5`. Returns the overrides, or a message naming the first bad
 * entry (for the one-line configuration error).
 */
export function parseThresholdOverrides(text: string): { ok: true; value: Map<string, number> } | { ok: false; error: string } {
  const value = new Map<string, number>();
  for (const entry of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const at = entry.lastIndexOf('=');
    const intent = at > 0 ? entry.slice(0, at).trim() : '';
    const raw = at > 0 ? entry.slice(at + 1).trim() : '';
    const threshold = raw === '' ? NaN : Number(raw);
    if (intent === '' || !Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
      return { ok: false, error: `expected intent=threshold pairs with thresholds in 0..1, got "${entry}"` };
    }
    value.set(intent, threshold);
  }
  return { ok: true, value };
}
