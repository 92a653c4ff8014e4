import type { AckBatchPhase } from '../../shared/contracts.js';

/*
 * Where one batch plan stands in this process, and the only steps that move it on. Pure: no Kafka,
 * no Cognigy, no clock. The writes and the calls happen in the pipeline and in BatchOutcomes; here
 * is only what they are allowed to do next, so that a step taken out of order fails loudly where
 * it is taken instead of leaving a plan that is neither sent, recorded nor dropped.
 */

export type PlanOutcome = Exclude<AckBatchPhase, 'PLANNED'>;

export type PlanPhase =
  /** Known, nobody here working on it. `onTopic` says whether sending it needs its plan record written first. */
  | { kind: 'planned'; onTopic: boolean }
  /** Taken in hand here: queued, its plan record being written, or with Cognigy. */
  | { kind: 'submitting'; planRecord: 'unwritten' | 'writing' | 'written' }
  /** Cognigy answered; the DLQ and outcome writes are under way. `answer` is a refusal's text, for the DLQ. */
  | { kind: 'answered'; outcome: PlanOutcome; answer?: string }
  /**
   * Final: the outcome is on the batches topic. `inHand` (this process took the plan in hand and
   * did not give up on it) decides whether it outlives a rebalance.
   */
  | { kind: 'recorded'; outcome: PlanOutcome; answer?: string; inHand: boolean };

/** What a delivered record inside a known plan's ranges does. */
export type CoveredRecord = 'finish' | 'wait' | 'wait-and-dead-letter' | 'wait-and-submit';

export class IllegalTransition extends Error {
  override name = 'IllegalTransition';

  constructor(step: string, phase: PlanPhase) {
    super(`a plan cannot ${step} from ${JSON.stringify(phase)}`);
  }
}

/** Closed from this process's window: its plan record is still to be written. */
export function cut(): PlanPhase {
  return { kind: 'planned', onTopic: false };
}

/** Found on the batches topic, so written already. */
export function planReadBack(): PlanPhase {
  return { kind: 'planned', onTopic: true };
}

/**
 * The first outcome on the topic stands. A plan still in hand here (another member resent it after
 * a rebalance) is settled at once; the submission running here finishes without changing that.
 */
export function outcomeReadBack(phase: PlanPhase, outcome: PlanOutcome): PlanPhase {
  switch (phase.kind) {
    case 'planned':
      return { kind: 'recorded', outcome, inHand: false };
    case 'submitting':
      return { kind: 'recorded', outcome, inHand: true };
    case 'answered':
      return { kind: 'recorded', outcome, answer: phase.answer, inHand: true };
    case 'recorded':
      return phase;
  }
}

export function take(phase: PlanPhase): PlanPhase {
  if (phase.kind !== 'planned') throw new IllegalTransition('be taken in hand', phase);
  return { kind: 'submitting', planRecord: phase.onTopic ? 'written' : 'unwritten' };
}

export function planWriteStarted(phase: PlanPhase): PlanPhase {
  if (phase.kind !== 'submitting' || phase.planRecord !== 'unwritten') throw new IllegalTransition('start writing its plan record', phase);
  return { kind: 'submitting', planRecord: 'writing' };
}

export function planWritten(phase: PlanPhase): PlanPhase {
  if (recordedInHand(phase)) return phase;
  if (phase.kind !== 'submitting' || phase.planRecord !== 'writing') throw new IllegalTransition('finish writing its plan record', phase);
  return { kind: 'submitting', planRecord: 'written' };
}

/** Only a plan whose record is on the topic goes to Cognigy, so only such a plan can be answered. */
export function answered(phase: PlanPhase, outcome: PlanOutcome, answer?: string): PlanPhase {
  if (recordedInHand(phase)) return { ...phase, answer: phase.answer ?? answer };
  if (phase.kind !== 'submitting' || phase.planRecord !== 'written') throw new IllegalTransition(`be answered ${outcome}`, phase);
  return { kind: 'answered', outcome, answer };
}

export function outcomeRecorded(phase: PlanPhase): PlanPhase {
  if (recordedInHand(phase)) return phase;
  if (phase.kind !== 'answered') throw new IllegalTransition('have its outcome recorded', phase);
  return { kind: 'recorded', outcome: phase.outcome, answer: phase.answer, inHand: true };
}

/**
 * The submission here ended early (stopping, or a failure past the write retries). Without an
 * outcome the plan is planned again and may be retried; what is on the topic stays there.
 */
export function submissionFailed(phase: PlanPhase): PlanPhase {
  switch (phase.kind) {
    case 'submitting':
      return { kind: 'planned', onTopic: phase.planRecord === 'written' };
    case 'answered':
      return { kind: 'planned', onTopic: true };
    case 'recorded':
      if (phase.inHand) return { ...phase, inHand: false };
      break;
    case 'planned':
      break;
  }
  throw new IllegalTransition('fail a submission it is not in', phase);
}

/**
 * After a rebalance the records come again from the last commit and the journal is read again, so
 * a plan nobody here works on is forgotten: the read-back brings it back if it is on the topic,
 * and if it is not, nobody else knows it and its records are cut afresh. A plan whose record is
 * being written or which is with Cognigy carries on, as that cannot be called back.
 */
export function survivesRebalance(phase: PlanPhase): boolean {
  switch (phase.kind) {
    case 'planned':
      return false;
    case 'submitting':
      return phase.planRecord !== 'unwritten';
    case 'answered':
      return true;
    case 'recorded':
      return phase.inHand;
  }
}

/**
 * An accepted plan's records are done; every other plan holds the record until it resolves, a
 * refused one dead-letters it at once, and one nobody here works on yet is taken in hand.
 */
export function coveredRecord(phase: PlanPhase): CoveredRecord {
  switch (phase.kind) {
    case 'planned':
      return 'wait-and-submit';
    case 'submitting':
    case 'answered':
      return 'wait';
    case 'recorded':
      return phase.outcome === 'ACCEPTED' ? 'finish' : 'wait-and-dead-letter';
  }
}

/** The outcome is on the topic while this process's own submission may still be running. */
function recordedInHand(phase: PlanPhase): phase is Extract<PlanPhase, { kind: 'recorded' }> {
  return phase.kind === 'recorded' && phase.inHand;
}
