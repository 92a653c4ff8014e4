import { setTimeout as sleep } from 'node:timers/promises';
import { TokenBucket } from 'limiter';

/** Share of Cognigy's limit the writer uses: the rest is headroom for clock skew and other callers of the key. */
export const LIMIT_SHARE = 0.9;
const FIVE_MINUTES_MS = 300_000;

/**
 * The instance's one budget of Cognigy calls: a token bucket (the `limiter` package) that starts
 * empty, holds a burst of 5% and refills the rest evenly, so no five minutes ever see more than
 * 90% of `maxPer5Min` calls. A 429 holds every caller until its Retry-After has passed.
 */
export class CallBudget {
  private readonly bucket: TokenBucket;
  private holdUntil = 0;
  readonly perFiveMinutes: number;

  constructor(
    maxPer5Min: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perFiveMinutes = Math.max(2, Math.floor(maxPer5Min * LIMIT_SHARE));
    const burst = Math.max(1, Math.floor(this.perFiveMinutes / 20));
    this.bucket = new TokenBucket({ bucketSize: burst, tokensPerInterval: this.perFiveMinutes - burst, interval: FIVE_MINUTES_MS });
  }

  /** Waits for a call slot; rejects (AbortError) when the signal aborts first. */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const held = this.holdUntil - this.now();
      if (held > 0) await sleep(held, undefined, { signal });
      else if (this.bucket.tryRemoveTokens(1)) return;
      else await sleep(Math.max(5, this.bucket.getWaitTime(1)), undefined, { signal });
    }
  }

  /** Cognigy answered 429: nobody calls before `retryAfterMs` has passed. */
  hold(retryAfterMs: number): void {
    this.holdUntil = Math.max(this.holdUntil, this.now() + retryAfterMs);
  }
}
