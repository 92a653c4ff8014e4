/**
 * Coalesces concurrent submissions into batched sends. One send is in flight at a time; whatever
 * arrives meanwhile rides on the next one, so under load batches grow by themselves and at low
 * rates a submission waits at most `lingerMs`. Each submitter learns the outcome of its own batch.
 */
export class Coalescer<T> {
  private queue: { item: T; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private sending = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (items: T[]) => Promise<void>,
    private readonly opts: { lingerMs: number; maxBatch: number; onBatch?: (size: number) => void },
  ) {}

  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.sending) return;
      if (this.queue.length >= this.opts.maxBatch || this.opts.lingerMs === 0) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.lingerMs);
    });
  }

  /** Submissions not yet sent or in the batch in flight. */
  get pending(): number {
    return this.queue.length;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.sending = true;
    this.opts.onBatch?.(batch.length);
    this.send(batch.map((entry) => entry.item)).then(
      () => batch.forEach((entry) => entry.resolve()),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    ).finally(() => {
      this.sending = false;
      // What queued up during the send has already waited; send it now.
      if (this.queue.length > 0) this.flush();
    });
  }
}
