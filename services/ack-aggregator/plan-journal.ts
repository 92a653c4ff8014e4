import type { AckBatch } from '../../shared/contracts.js';
import { cut, outcomeReadBack, planReadBack, type PlanPhase } from './plan-lifecycle.js';

/** A plan this process knows, where it stands, and the delivered records waiting for it. */
export class PlanEntry<R> {
  /** Delivered records the plan accounts for; they are finished when it resolves. */
  readonly waiting: R[] = [];
  private current: PlanPhase;

  constructor(
    /** The PLANNED record, items included: enough to resend the batch byte for byte. */
    public plan: AckBatch,
    phase: PlanPhase,
  ) {
    this.current = phase;
  }

  get phase(): PlanPhase {
    return this.current;
  }

  /** The only way a plan moves on: `transition` (from plan-lifecycle) throws on a step out of order. */
  advance<A extends unknown[]>(transition: (phase: PlanPhase, ...args: A) => PlanPhase, ...args: A): void {
    this.current = transition(this.current, ...args);
  }
}

/**
 * Every batch plan this process knows: its own, and those read back from the batches topic. A
 * delivered record inside a known plan's ranges belongs to that plan and to no new batch, which
 * is what keeps a batch's boundaries (and so its Idempotency-Key) the same across restarts.
 */
export class PlanJournal<R> {
  private readonly plans = new Map<string, PlanEntry<R>>();

  /** A plan this process closed; a plan already known under the same id is returned as it is. */
  cut(plan: AckBatch): PlanEntry<R> {
    return this.add(plan, cut());
  }

  /** Merges what a scan of the batches topic found: plans first, then the outcomes among them. */
  merge(records: readonly AckBatch[]): void {
    for (const record of records) if (record.phase === 'PLANNED') this.add(record, planReadBack());
    for (const record of records) {
      if (record.phase === 'PLANNED') continue;
      // An outcome of a plan not known here is irrelevant.
      const entry = this.plans.get(record.batchId);
      if (entry === undefined) continue;
      entry.advance(outcomeReadBack, record.phase);
      // A plan resolved without this process is never sent from here: only its ranges are needed.
      if (entry.phase.kind === 'recorded' && !entry.phase.inHand) entry.plan = { ...entry.plan, statusMatrix: [] };
    }
  }

  covering(topic: string, partition: number, offset: number): PlanEntry<R> | undefined {
    for (const entry of this.plans.values()) {
      for (const range of entry.plan.items) {
        if (range.partition === partition && range.topic === topic && offset >= range.fromOffset && offset <= range.toOffset) {
          return entry;
        }
      }
    }
    return undefined;
  }

  remove(batchId: string): void {
    this.plans.delete(batchId);
  }

  /** Drops the plans `keep` says are no longer needed (resolved and committed, or elsewhere). */
  prune(keep: (entry: PlanEntry<R>) => boolean): void {
    for (const [batchId, entry] of this.plans) if (!keep(entry)) this.plans.delete(batchId);
  }

  entries(): IterableIterator<PlanEntry<R>> {
    return this.plans.values();
  }

  get size(): number {
    return this.plans.size;
  }

  /** Adds a plan unless it is known already (a read-back copy of an own plan changes nothing). */
  private add(plan: AckBatch, phase: PlanPhase): PlanEntry<R> {
    const known = this.plans.get(plan.batchId);
    if (known !== undefined) return known;
    const entry = new PlanEntry<R>(plan, phase);
    this.plans.set(plan.batchId, entry);
    return entry;
  }
}
