/**
 * Runs tasks concurrently, at most `maxInFlight` at a time, and tasks with the same key strictly
 * one after another in submission order: the KEY ordering of Confluent's Parallel Consumer.
 * Keys wait their turn in FIFO order, so older records are started first. No I/O.
 */
export class KeyOrderedExecutor {
  /** Per key: the tasks not yet finished; the head is running or waiting for a slot. */
  private readonly queues = new Map<string, (() => Promise<void>)[]>();
  /** Keys whose head task may start as soon as a slot frees. */
  private readonly ready: string[] = [];
  private readyHead = 0;
  private running = 0;
  private pending = 0;
  private waiters: { below: number; resolve: () => void }[] = [];

  constructor(
    private readonly maxInFlight: number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error('maxInFlight must be a positive integer');
  }

  submit(key: string, task: () => Promise<void>): void {
    this.pending += 1;
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(task);
      return;
    }
    this.queues.set(key, [task]);
    this.ready.push(key);
    this.pump();
  }

  /** Tasks submitted and not finished (running or queued). */
  get size(): number {
    return this.pending;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Resolves once fewer than `limit` tasks are pending (at once if that is already so). */
  whenBelow(limit: number): Promise<void> {
    if (this.pending < limit) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ below: limit, resolve }));
  }

  /** Resolves when every submitted task has finished. */
  idle(): Promise<void> {
    return this.whenBelow(1);
  }

  private pump(): void {
    while (this.running < this.maxInFlight && this.readyHead < this.ready.length) {
      const key = this.ready[this.readyHead] as string;
      this.readyHead += 1;
      this.start(key);
    }
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
  }

  private start(key: string): void {
    const queue = this.queues.get(key) as (() => Promise<void>)[];
    const task = queue[0] as () => Promise<void>;
    this.running += 1;
    let result: Promise<void>;
    try {
      result = task();
    } catch (error) {
      result = Promise.reject(error);
    }
    result
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.running -= 1;
        this.pending -= 1;
        queue.shift();
        if (queue.length > 0) this.ready.push(key);
        else this.queues.delete(key);
        this.notify();
        this.pump();
      });
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (this.pending < waiter.below) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }
}
