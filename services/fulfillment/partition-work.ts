import { OffsetTracker } from './offset-tracker.js';
import type { Completion } from './processor.js';

/**
 * One input partition while this instance owns it: what was taken from it, what finished, and
 * where its committed offset stands. Dropped when the partition is revoked or restarted after a
 * failed write; work still running for a dropped partition is discarded on completion.
 */
export class PartitionWork {
  readonly progress = new OffsetTracker<Completion>();
  dropped = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The committed offset as this instance knows it: the restart point after a failed write. */
    public committed: string,
  ) {
    this.target = committed;
  }

  /** The offset to commit next: everything below it finished (and, at-least-once, was written). */
  target: string;

  get id(): string {
    return partitionId(this.topic, this.partition);
  }
}

export function partitionId(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
