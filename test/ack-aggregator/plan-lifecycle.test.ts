import { describe, expect, it } from 'vitest';
import {
  answered,
  coveredRecord,
  cut,
  IllegalTransition,
  outcomeReadBack,
  outcomeRecorded,
  planReadBack,
  planWriteStarted,
  planWritten,
  submissionFailed,
  survivesRebalance,
  take,
  type PlanPhase,
} from '../../services/ack-aggregator/plan-lifecycle.js';

/** One plan in every phase a plan can be in. */
const phases = {
  justCut: { kind: 'planned', onTopic: false },
  readBack: { kind: 'planned', onTopic: true },
  queued: { kind: 'submitting', planRecord: 'unwritten' },
  writing: { kind: 'submitting', planRecord: 'writing' },
  sending: { kind: 'submitting', planRecord: 'written' },
  answeredAccepted: { kind: 'answered', outcome: 'ACCEPTED' },
  answeredRefused: { kind: 'answered', outcome: 'DEAD_LETTERED', answer: 'unknown webhookId' },
  recordedHere: { kind: 'recorded', outcome: 'ACCEPTED', inHand: true },
  refusedHere: { kind: 'recorded', outcome: 'DEAD_LETTERED', answer: 'unknown webhookId', inHand: true },
  recordedElsewhere: { kind: 'recorded', outcome: 'ACCEPTED', inHand: false },
  refusedElsewhere: { kind: 'recorded', outcome: 'DEAD_LETTERED', inHand: false },
} satisfies Record<string, PlanPhase>;

type Name = keyof typeof phases;
const names = Object.keys(phases) as Name[];

/** Every step of the lifecycle, with the phases it may be taken from; from any other it throws. */
const steps: { step: string; move: (phase: PlanPhase) => PlanPhase; from: Name[] }[] = [
  { step: 'take', move: take, from: ['justCut', 'readBack'] },
  { step: 'planWriteStarted', move: planWriteStarted, from: ['queued'] },
  { step: 'planWritten', move: planWritten, from: ['writing', 'recordedHere', 'refusedHere'] },
  { step: 'answered', move: (p) => answered(p, 'ACCEPTED'), from: ['sending', 'recordedHere', 'refusedHere'] },
  { step: 'outcomeRecorded', move: outcomeRecorded, from: ['answeredAccepted', 'answeredRefused', 'recordedHere', 'refusedHere'] },
  {
    step: 'submissionFailed',
    move: submissionFailed,
    from: ['queued', 'writing', 'sending', 'answeredAccepted', 'answeredRefused', 'recordedHere', 'refusedHere'],
  },
  { step: 'outcomeReadBack', move: (p) => outcomeReadBack(p, 'ACCEPTED'), from: names },
];

describe('plan lifecycle', () => {
  it('starts a plan this process cut without, and one read back with, its record on the topic', () => {
    expect(cut()).toEqual(phases.justCut);
    expect(planReadBack()).toEqual(phases.readBack);
  });

  it('takes a plan in hand, writing its plan record first only when it is not on the topic', () => {
    expect(take(phases.justCut)).toEqual(phases.queued);
    expect(take(phases.readBack)).toEqual(phases.sending);
    expect(planWriteStarted(phases.queued)).toEqual(phases.writing);
    expect(planWritten(phases.writing)).toEqual(phases.sending);
  });

  it('records what Cognigy answered, keeping a refusal text for the DLQ', () => {
    expect(answered(phases.sending, 'ACCEPTED')).toEqual(phases.answeredAccepted);
    expect(answered(phases.sending, 'DEAD_LETTERED', 'unknown webhookId')).toEqual(phases.answeredRefused);
    expect(outcomeRecorded(phases.answeredAccepted)).toEqual(phases.recordedHere);
    expect(outcomeRecorded(phases.answeredRefused)).toEqual(phases.refusedHere);
  });

  it('walks a plan this process cut from its window to its recorded outcome', () => {
    const path = [take, planWriteStarted, planWritten, (p: PlanPhase) => answered(p, 'ACCEPTED'), outcomeRecorded];
    expect(path.reduce((phase, step) => step(phase), cut())).toEqual(phases.recordedHere);
  });

  it('puts a failed submission back to planned, keeping whether its plan record is on the topic', () => {
    expect(submissionFailed(phases.queued)).toEqual(phases.justCut);
    // A write that failed may or may not have landed: it is written again.
    expect(submissionFailed(phases.writing)).toEqual(phases.justCut);
    expect(submissionFailed(phases.sending)).toEqual(phases.readBack);
    expect(submissionFailed(phases.answeredAccepted)).toEqual(phases.readBack);
    expect(submissionFailed(phases.answeredRefused)).toEqual(phases.readBack);
    expect(take(submissionFailed(phases.sending))).toEqual(phases.sending);
  });

  it('gives up a recorded plan whose submission here failed afterwards, without losing its outcome', () => {
    expect(submissionFailed(phases.recordedHere)).toEqual(phases.recordedElsewhere);
    expect(submissionFailed(phases.refusedHere)).toEqual({ ...phases.refusedHere, inHand: false });
  });

  it('settles a plan at once on an outcome read back, in hand or not; the first outcome stands', () => {
    expect(outcomeReadBack(phases.justCut, 'ACCEPTED')).toEqual(phases.recordedElsewhere);
    expect(outcomeReadBack(phases.readBack, 'DEAD_LETTERED')).toEqual(phases.refusedElsewhere);
    expect(outcomeReadBack(phases.queued, 'ACCEPTED')).toEqual(phases.recordedHere);
    expect(outcomeReadBack(phases.sending, 'ACCEPTED')).toEqual(phases.recordedHere);
    expect(outcomeReadBack(phases.answeredRefused, 'DEAD_LETTERED')).toEqual(phases.refusedHere);
    expect(outcomeReadBack(phases.recordedElsewhere, 'DEAD_LETTERED')).toBe(phases.recordedElsewhere);
    expect(outcomeReadBack(phases.recordedHere, 'DEAD_LETTERED')).toBe(phases.recordedHere);
  });

  it('lets the submission still running here finish after an outcome was read back, changing nothing', () => {
    const settled = outcomeReadBack(phases.writing, 'DEAD_LETTERED');
    expect(planWritten(settled)).toBe(settled);
    expect(answered(settled, 'ACCEPTED')).toEqual(settled);
    expect(outcomeRecorded(settled)).toBe(settled);
    // A refusal read back has no text; the one Cognigy gave here goes to the DLQ with its records.
    expect(answered(settled, 'DEAD_LETTERED', 'unknown webhookId')).toEqual({ ...settled, answer: 'unknown webhookId' });
    expect(answered(phases.refusedHere, 'DEAD_LETTERED', 'another text')).toEqual(phases.refusedHere);
  });

  describe.each(steps)('$step', ({ move, from }) => {
    const refused = names.filter((name) => !from.includes(name));
    if (refused.length > 0) {
      it.each(refused)('throws from %s', (name) => {
        expect(() => move(phases[name])).toThrow(IllegalTransition);
      });
    }
    it.each(from)('is possible from %s', (name) => {
      expect(() => move(phases[name])).not.toThrow();
    });
  });

  it('names the step and the phase in the error', () => {
    expect(() => answered(phases.queued, 'ACCEPTED')).toThrow('a plan cannot be answered ACCEPTED from {"kind":"submitting","planRecord":"unwritten"}');
  });

  it('keeps across a rebalance only the plans whose record is being written, with Cognigy or recorded here', () => {
    const survivors = names.filter((name) => survivesRebalance(phases[name]));
    expect(survivors).toEqual(['writing', 'sending', 'answeredAccepted', 'answeredRefused', 'recordedHere', 'refusedHere']);
  });

  it('decides what a newly delivered record inside a known plan does', () => {
    const decisions = Object.fromEntries(names.map((name) => [name, coveredRecord(phases[name])]));
    expect(decisions).toEqual({
      justCut: 'wait-and-submit',
      readBack: 'wait-and-submit',
      queued: 'wait',
      writing: 'wait',
      sending: 'wait',
      answeredAccepted: 'wait',
      answeredRefused: 'wait',
      recordedHere: 'finish',
      refusedHere: 'wait-and-dead-letter',
      recordedElsewhere: 'finish',
      refusedElsewhere: 'wait-and-dead-letter',
    });
  });
});
