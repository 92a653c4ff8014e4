import { errorMessage } from '../../shared/errors.js';
import type { Consumer } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { AckMetrics } from './metrics.js';
import { OffsetProgress } from './progress.js';

export interface CommitterDeps {
  consumer: Consumer;
  metrics: AckMetrics;
  logger: Logger;
}

/**
 * Offset progress of the current generation and its commits: per partition, the offset after
 * the longest finished prefix, with at most one commit in flight.
 */
export class OffsetCommitter {
  private current = new OffsetProgress();
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  private commitRetry: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: CommitterDeps,
    /** Once stopping, a failed commit is not retried later; the final flush is the last attempt. */
    private readonly stopping: () => boolean,
  ) {}

  get progress(): OffsetProgress {
    return this.current;
  }

  /** A rebalance: offsets go back to the last commit, so what was delivered before counts no more. */
  reset(): void {
    this.current = new OffsetProgress();
  }

  commitSoon(): void {
    if (this.committing !== undefined) {
      this.commitAgain = true;
      return;
    }
    this.committing = this.commit().finally(() => {
      this.committing = undefined;
    });
  }

  /** The last commit at shutdown: waits for the one in flight, then commits whatever finished since. */
  async flush(): Promise<void> {
    clearTimeout(this.commitRetry);
    await this.committing;
    this.commitSoon();
    await this.committing;
  }

  private async commit(): Promise<void> {
    do {
      this.commitAgain = false;
      // Held across the await: a rebalance meanwhile replaces the progress, and the new one starts clean.
      const progress = this.current;
      const due = progress.commitsDue();
      if (due.length === 0) return;
      try {
        await this.deps.consumer.commitOffsets(due.map((d) => ({ topic: d.topic, partition: d.partition, offset: String(d.offset) })));
        for (const d of due) progress.committed(d.topic, d.partition, d.offset);
        this.deps.metrics.commits.inc({ outcome: 'ok' });
      } catch (error) {
        // A rebalance in progress refuses commits; the new generation starts from the last commit.
        this.deps.metrics.commits.inc({ outcome: 'failed' });
        this.deps.logger.warn({ err: errorMessage(error) }, 'offset commit failed; retrying');
        clearTimeout(this.commitRetry);
        if (!this.stopping()) this.commitRetry = setTimeout(() => this.commitSoon(), 1_000);
        return;
      }
    } while (this.commitAgain);
  }
}
