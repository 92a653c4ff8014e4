import { describe, expect, it } from 'vitest';
import { checkInvariant, type Ledger } from '../../tools/soak/invariant.js';

const ids = (...list: string[]) => new Set(list);
const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));

/** Three accepted events, each with one result and one acknowledgment. */
function clean(): Ledger {
  return {
    accepted: ids('e1', 'e2', 'e3'),
    unanswered: ids(),
    results: counts({ e1: 1, e2: 1, e3: 1 }),
    deadLettered: counts({}),
    acknowledged: counts({ e1: 1, e2: 1, e3: 1 }),
  };
}

const failing = (ledger: Ledger) =>
  checkInvariant(ledger)
    .checks.filter((c) => !c.holds)
    .map((c) => c.name);

describe('the soak invariant', () => {
  it('holds when every accepted event has one result and one acknowledgment', () => {
    const verdict = checkInvariant(clean());
    expect(verdict.holds).toBe(true);
    expect(verdict.counts).toMatchObject({ accepted: 3, results: 3, resultRecords: 3, acknowledged: 3, lost: 0, duplicateAcknowledged: 0 });
  });

  it('counts an event acknowledged twice as a failure, with its surplus', () => {
    const ledger = { ...clean(), acknowledged: counts({ e1: 1, e2: 3, e3: 1 }) };
    const verdict = checkInvariant(ledger);
    expect(verdict.holds).toBe(false);
    expect(failing(ledger)).toEqual(['no event acknowledged twice']);
    expect(verdict.counts).toMatchObject({ acknowledged: 3, acknowledgements: 5, duplicateAcknowledged: 1, surplusAcknowledgements: 2 });
    expect(verdict.examples.duplicateAcknowledged).toEqual(['e2']);
  });

  it('counts an event with two result records as a failure', () => {
    const ledger = { ...clean(), results: counts({ e1: 1, e2: 1, e3: 2 }) };
    expect(failing(ledger)).toEqual(['no event with two results']);
    expect(checkInvariant(ledger).counts).toMatchObject({ results: 3, resultRecords: 4, duplicateResults: 1, surplusResults: 1 });
  });

  it('reports an accepted event without a result or acknowledgment as lost', () => {
    const ledger = { ...clean(), results: counts({ e1: 1, e2: 1 }), acknowledged: counts({ e1: 1, e2: 1 }) };
    const verdict = checkInvariant(ledger);
    expect(failing(ledger)).toEqual(['accepted = results', 'no accepted event lost']);
    expect(verdict.counts).toMatchObject({ lost: 1, acceptedWithoutResult: 1 });
    expect(verdict.examples.lost).toEqual(['e3']);
  });

  it('counts a duplicate delivery answered 202 once: accepted is a set of event ids', () => {
    const ledger = clean();
    (ledger.accepted as Set<string>).add('e1');
    expect(checkInvariant(ledger).counts.accepted).toBe(3);
  });

  it('treats a result without acknowledgment as answered when it is on the DLQ (definitively dead-lettered)', () => {
    const ledger = { ...clean(), acknowledged: counts({ e1: 1, e2: 1 }), deadLettered: counts({ e3: 1 }) };
    const verdict = checkInvariant(ledger);
    expect(verdict.holds).toBe(true);
    expect(verdict.counts).toMatchObject({ definitivelyDeadLettered: 1, acceptedUnacknowledged: 1, lost: 0 });
  });

  it('does not count a dead letter that was acknowledged (REJECTED or TIMEOUT result) as definitively dead-lettered', () => {
    const ledger = { ...clean(), deadLettered: counts({ e2: 1 }) };
    const verdict = checkInvariant(ledger);
    expect(verdict.holds).toBe(true);
    expect(verdict.counts).toMatchObject({ deadLettered: 1, definitivelyDeadLettered: 0, acknowledged: 3 });
  });

  it('fails when a result was neither acknowledged nor dead-lettered', () => {
    const ledger = { ...clean(), acknowledged: counts({ e1: 1, e2: 1 }) };
    expect(failing(ledger)).toEqual(['results = acknowledged + definitively dead-lettered', 'no accepted event lost']);
    expect(checkInvariant(ledger).counts.resultsUnanswered).toBe(1);
  });

  it('allows a result for a request that got no answer (written before the ingress died) but not for one never sent', () => {
    const written = { ...clean(), unanswered: ids('e4'), results: counts({ e1: 1, e2: 1, e3: 1, e4: 1 }), acknowledged: counts({ e1: 1, e2: 1, e3: 1, e4: 1 }) };
    expect(checkInvariant(written).holds).toBe(true);
    expect(checkInvariant(written).counts.processedWithoutAnswer).toBe(1);

    const unknown = { ...written, unanswered: ids() };
    expect(failing(unknown)).toEqual(['accepted = results']);
    expect(checkInvariant(unknown).counts.unexpectedResults).toBe(1);
  });

  it('fails on an acknowledgment of an event that has no result', () => {
    const ledger = { ...clean(), acknowledged: counts({ e1: 1, e2: 1, e3: 1, ghost: 1 }) };
    expect(failing(ledger)).toEqual(['results = acknowledged + definitively dead-lettered']);
    expect(checkInvariant(ledger).examples.unexpectedAcknowledgements).toEqual(['ghost']);
  });
});
