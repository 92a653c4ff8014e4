/** Times and durations as operators type them: `15m`, `1h30m`, `2d`, `2024-05-01T10:00:00Z`. */

export class UsageError extends Error {
  override name = 'UsageError';
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) {
    throw new UsageError(`expected a duration like 90s, 15m, 1h30m or 2d, got "${text}"`);
  }
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) total += Number(amount) * (UNIT_MS[unit as string] ?? 0);
  return total;
}

// A zone is required: an operator in another time zone must not replay the wrong hours.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

export function parseDateTime(text: string): number {
  const trimmed = text.trim();
  const parsed = ISO_WITH_ZONE.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(parsed)) {
    throw new UsageError(`expected an ISO date-time with a zone like 2024-05-01T10:00:00Z or 2024-05-01T12:00:00+02:00, got "${text}"`);
  }
  return parsed;
}

/** Either an ISO date-time or a duration meaning "that long ago". */
export function parseInstant(text: string, now: number): number {
  return DURATION.test(text.trim()) ? now - parseDuration(text) : parseDateTime(text);
}

/** `3d 4h`, `12m 5s`, `800ms`: for ages in listings. */
export function formatAge(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0 || parts.length > 0) parts.push(`${amount}${unit}`);
    rest -= amount * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
