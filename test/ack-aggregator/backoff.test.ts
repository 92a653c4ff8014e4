import { describe, expect, it } from 'vitest';
import type { IBackoff, IRetryBackoffContext } from 'cockatiel';
import { submitBackoff } from '../../shared/cognigy/backoff.js';
import { CognigyRateLimited, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { parseRetryAfter } from '../../shared/cognigy/retry-after.js';

const failure = (error: Error, attempt: number): IRetryBackoffContext<unknown> => ({
  attempt,
  signal: new AbortController().signal,
  result: { error },
});

function delays(errors: Error[], settings = { baseDelayMs: 500, maxDelayMs: 30_000 }): number[] {
  const factory = submitBackoff(settings);
  let backoff: IBackoff<IRetryBackoffContext<unknown>> | undefined;
  return errors.map((error, i) => {
    backoff = backoff === undefined ? factory.next(failure(error, i + 1)) : backoff.next(failure(error, i + 1));
    return backoff.duration;
  });
}

describe('submitBackoff', () => {
  it('waits exactly what Retry-After asked for', () => {
    expect(delays([new CognigyRateLimited(2_000)])).toEqual([2_000]);
  });

  it('backs off exponentially with jitter, capped, on 5xx and network errors', () => {
    const runs = Array.from({ length: 20 }, () => delays(Array.from({ length: 12 }, () => new CognigyUnavailable('down')), { baseDelayMs: 100, maxDelayMs: 5_000 }));
    for (const run of runs) {
      for (const d of run) {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(5_000);
      }
      expect(run.slice(-3).some((d) => d >= 1_000)).toBe(true);
    }
    // jitter: twenty runs do not all wait the same first delay
    expect(new Set(runs.map((r) => Math.round(r[0]!))).size).toBeGreaterThan(1);
  });

  it('falls back to backoff on a 429 without Retry-After', () => {
    const [d] = delays([new CognigyRateLimited(undefined)], { baseDelayMs: 100, maxDelayMs: 5_000 });
    expect(d).toBeGreaterThanOrEqual(0);
    expect(d).toBeLessThanOrEqual(5_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and ignores what it cannot read', () => {
    expect(parseRetryAfter('2', 0)).toBe(2_000);
    expect(parseRetryAfter('0.5', 0)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:01 GMT', 4_000)).toBe(0);
  });
});
