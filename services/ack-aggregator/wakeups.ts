/**
 * Lets a waiter (backpressure in eachBatch, the shutdown drain) sleep until something it waits
 * for may have changed, instead of polling on a fixed interval alone.
 */
export class Wakeups {
  private waiting: (() => void)[] = [];

  /** Resolves at the next `notify`, or after `timeoutMs`. */
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  notify(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }
}
