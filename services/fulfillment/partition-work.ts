import { partitionKey } from '../../shared/stage/offsets.js';
import type { Lane } from './output.js';

/**
 * One input partition while intake takes from it: where taking starts, how far it got, and
 * whether the partition was given up (revoked, or restarted after a failed write). Owned by
 * intake; the output's side of the partition is its Lane.
 */
export class PartitionWork {
  dropped = false;
  /** The next offset to take; records below were taken, or lie below where the partition starts. */
  next: number;

  constructor(readonly lane: Lane) {
    this.next = lane.start;
  }

  get topic(): string {
    return this.lane.topic;
  }

  get partition(): number {
    return this.lane.partition;
  }

  get id(): string {
    return partitionKey(this.topic, this.partition);
  }
}

