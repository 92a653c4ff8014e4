import { describe, expect, it } from 'vitest';
import { CognigyRateLimited, CognigyUnauthorized, CognigyUnavailable } from '../../shared/cognigy/errors.js';
import { CallBudget } from '../../services/session-writer/rate-limit.js';
import { classifyVariablesAnswer, SessionGone, WriteRefused } from '../../services/session-writer/sessions-client.js';

describe('the call budget', () => {
  it('uses 90 % of the limit: a 5 % burst, the rest spread evenly over five minutes, starting empty', async () => {
    const never = new AbortController().signal;
    // From before the bucket exists: it fills from its construction on.
    const started = performance.now();
    const budget = new CallBudget(300_000); // 270,000 per five minutes: 855 per second after a 13,500 burst
    expect(budget.perFiveMinutes).toBe(270_000);
    let taken = 0;
    while (performance.now() - started < 500) {
      await budget.take(never);
      taken += 1;
    }
    const elapsedS = (performance.now() - started) / 1_000;
    // Starting empty, no burst is available at once: the rate alone bounds what was taken (13,500 at
    // once if it started full), give or take the bucket's millisecond clock: 855 per second is about
    // one call per millisecond, so a few calls of slack.
    expect(taken).toBeLessThanOrEqual(Math.ceil(elapsedS * 855) + 5);
    expect(taken).toBeGreaterThan(elapsedS * 855 * 0.5);
  });

  it('holds every caller for a Retry-After, and gives up when told to stop', async () => {
    const budget = new CallBudget(300_000);
    budget.hold(300);
    const started = performance.now();
    await budget.take(new AbortController().signal);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);

    budget.hold(60_000);
    const stop = new AbortController();
    const waiting = budget.take(stop.signal);
    stop.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});

describe("Cognigy's answers to a session-variable write", () => {
  const answer = (status: number, body = '{}', retryAfter: string | null = null) => () => classifyVariablesAnswer({ status, body, retryAfter }, 0);

  it('takes 2xx as written', () => {
    expect(answer(200)).not.toThrow();
    expect(answer(204, '')).not.toThrow();
  });

  it('retries 429 after its Retry-After, and 408, 5xx with backoff', () => {
    expect(answer(429, '{}', '7')).toThrow(CognigyRateLimited);
    try {
      answer(429, '{}', '7')();
    } catch (error) {
      expect((error as CognigyRateLimited).retryAfterMs).toBe(7_000);
    }
    for (const status of [408, 500, 502, 503]) expect(answer(status)).toThrow(CognigyUnavailable);
  });

  it('stops on refused credentials, dead-letters a gone session and other refusals', () => {
    expect(answer(401, '{"message":"invalid key"}')).toThrow(/401: invalid key/);
    expect(answer(403)).toThrow(CognigyUnauthorized);
    expect(answer(404)).toThrow(SessionGone);
    expect(answer(400, '{"issues":[]}')).toThrow(WriteRefused);
    expect(answer(422)).toThrow(WriteRefused);
  });
});
