import type { AckBatch, AckBatchPhase } from '../../shared/contracts.js';

export type PlanOutcome = Exclude<AckBatchPhase, 'PLANNED'>;

/** A planned batch and what is known about it in this process. */
export interface PlanState<R> {
  /** The PLANNED record, items included: enough to resend the batch byte for byte. */
  plan: AckBatch;
  outcome: PlanOutcome | null;
  /** Planned by this process (false: read back from the batches topic after a restart or rebalance). */
  own: boolean;
  submitting: boolean;
  /** Delivered records the plan accounts for; they are finished when it resolves. */
  waiting: R[];
}

/**
 * Every batch plan this process knows: its own, and those read back from the batches topic. A
 * delivered record inside a known plan's ranges belongs to that plan and to no new batch, which
 * is what keeps a batch's boundaries (and so its Idempotency-Key) the same across restarts.
 */
export class PlanJournal<R> {
  private readonly plans = new Map<string, PlanState<R>>();

  /** Adds a plan unless it is known already (a read-back copy of an own plan changes nothing). */
  add(plan: AckBatch, own: boolean): PlanState<R> {
    const known = this.plans.get(plan.batchId);
    if (known !== undefined) return known;
    const state: PlanState<R> = { plan, outcome: null, own, submitting: false, waiting: [] };
    this.plans.set(plan.batchId, state);
    return state;
  }

  /** Records an outcome (own, or read back); an outcome of a plan not known here is irrelevant. */
  resolve(batchId: string, outcome: PlanOutcome): PlanState<R> | undefined {
    const state = this.plans.get(batchId);
    if (state !== undefined && state.outcome === null) state.outcome = outcome;
    return state;
  }

  /** Merges what a scan of the batches topic found: plans first, then the outcomes among them. */
  merge(records: readonly AckBatch[]): void {
    for (const record of records) if (record.phase === 'PLANNED') this.add(record, false);
    for (const record of records) {
      if (record.phase === 'PLANNED') continue;
      const state = this.resolve(record.batchId, record.phase);
      // A resolved plan read back is never sent again: only its ranges are needed.
      if (state !== undefined && !state.own) state.plan = { ...state.plan, statusMatrix: [] };
    }
  }

  covering(topic: string, partition: number, offset: number): PlanState<R> | undefined {
    for (const state of this.plans.values()) {
      for (const range of state.plan.items) {
        if (range.partition === partition && range.topic === topic && offset >= range.fromOffset && offset <= range.toOffset) {
          return state;
        }
      }
    }
    return undefined;
  }

  remove(batchId: string): void {
    this.plans.delete(batchId);
  }

  /** Drops the plans `keep` says are no longer needed (resolved and committed, or elsewhere). */
  prune(keep: (state: PlanState<R>) => boolean): void {
    for (const [batchId, state] of this.plans) if (!keep(state)) this.plans.delete(batchId);
  }

  states(): IterableIterator<PlanState<R>> {
    return this.plans.values();
  }

  get size(): number {
    return this.plans.size;
  }
}
