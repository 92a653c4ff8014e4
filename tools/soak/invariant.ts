/**
 * The soak's invariant, over what was seen from outside the pipeline. Pure.
 *
 *   accepted = results = acknowledged + definitively dead-lettered, nothing twice.
 *
 * - accepted: distinct event ids the load generator got a 2xx for (a duplicate answered 202 is the
 *   same event, counted once).
 * - results: distinct event ids on the results topic (the `event-id` header).
 * - acknowledged: distinct webhookIds Cognigy (the simulator) applied in a batch.
 * - definitively dead-lettered: event ids on the DLQ that were never acknowledged. A result with
 *   ackStatus REJECTED or TIMEOUT is acknowledged to Cognigy too (and its callback is usually on the
 *   DLQ as well): it counts as acknowledged, not here. What counts here is a result Cognigy never
 *   heard about, e.g. an ack item the aggregator refused or a batch Cognigy answered 400.
 *
 * A request that got no answer (connection reset, timeout, a 5xx) may still have been written: its
 * event may show up in the results although it was never accepted. Such events are reported
 * ("processed without an answer") and allowed; any other result without an accepted event is not.
 */

export interface Ledger {
  accepted: ReadonlySet<string>;
  /** Event ids sent without any 2xx answer, of which at least one attempt's fate is unknown. */
  unanswered: ReadonlySet<string>;
  /** Result records per event id. */
  results: ReadonlyMap<string, number>;
  /** DLQ records per event id. */
  deadLettered: ReadonlyMap<string, number>;
  /** How often Cognigy applied each webhookId. */
  acknowledged: ReadonlyMap<string, number>;
}

export interface InvariantCounts {
  accepted: number;
  /** Distinct event ids on the results topic. */
  results: number;
  resultRecords: number;
  /** Result event ids that were never accepted, whose request had no answer. */
  processedWithoutAnswer: number;
  acknowledged: number;
  acknowledgements: number;
  /** Distinct event ids on the DLQ (acknowledged or not). */
  deadLettered: number;
  /** DLQ event ids that were never acknowledged. */
  definitivelyDeadLettered: number;
  /** Accepted event ids with no acknowledgment (dead-lettered or lost). */
  acceptedUnacknowledged: number;
  /** Accepted event ids neither acknowledged nor definitively dead-lettered. */
  lost: number;
  /** Event ids Cognigy applied more than once, and the surplus acknowledgments. */
  duplicateAcknowledged: number;
  surplusAcknowledgements: number;
  /** Event ids with more than one result record, and the surplus records. */
  duplicateResults: number;
  surplusResults: number;
  acceptedWithoutResult: number;
  unexpectedResults: number;
  resultsUnanswered: number;
  unexpectedAcknowledgements: number;
}

export interface Check {
  name: string;
  holds: boolean;
  detail: string;
}

export interface Verdict {
  holds: boolean;
  counts: InvariantCounts;
  checks: Check[];
  /** Up to EXAMPLES event ids of each kind of fault, to look up in the topics and logs. */
  examples: Record<string, string[]>;
}

const EXAMPLES = 10;

export function checkInvariant(ledger: Ledger): Verdict {
  const { accepted, unanswered, results, deadLettered, acknowledged } = ledger;
  const definitive = keys(deadLettered).filter((id) => !acknowledged.has(id));
  const definitiveSet = new Set(definitive);

  const acceptedWithoutResult = [...accepted].filter((id) => !results.has(id));
  const extraResults = keys(results).filter((id) => !accepted.has(id));
  const processedWithoutAnswer = extraResults.filter((id) => unanswered.has(id));
  const unexpectedResults = extraResults.filter((id) => !unanswered.has(id));
  const resultsUnanswered = keys(results).filter((id) => !acknowledged.has(id) && !definitiveSet.has(id));
  const unexpectedAcks = keys(acknowledged).filter((id) => !results.has(id));
  const unacknowledged = [...accepted].filter((id) => !acknowledged.has(id));
  const lost = unacknowledged.filter((id) => !definitiveSet.has(id));
  const duplicateAcks = entries(acknowledged).filter(([, n]) => n > 1);
  const duplicateResults = entries(results).filter(([, n]) => n > 1);

  const counts: InvariantCounts = {
    accepted: accepted.size,
    results: results.size,
    resultRecords: total(results),
    processedWithoutAnswer: processedWithoutAnswer.length,
    acknowledged: acknowledged.size,
    acknowledgements: total(acknowledged),
    deadLettered: deadLettered.size,
    definitivelyDeadLettered: definitive.length,
    acceptedUnacknowledged: unacknowledged.length,
    lost: lost.length,
    duplicateAcknowledged: duplicateAcks.length,
    surplusAcknowledgements: duplicateAcks.reduce((sum, [, n]) => sum + n - 1, 0),
    duplicateResults: duplicateResults.length,
    surplusResults: duplicateResults.reduce((sum, [, n]) => sum + n - 1, 0),
    acceptedWithoutResult: acceptedWithoutResult.length,
    unexpectedResults: unexpectedResults.length,
    resultsUnanswered: resultsUnanswered.length,
    unexpectedAcknowledgements: unexpectedAcks.length,
  };
  const answered = results.size - resultsUnanswered.length;
  const checks: Check[] = [
    {
      name: 'accepted = results',
      holds: acceptedWithoutResult.length === 0 && unexpectedResults.length === 0,
      detail:
        `${accepted.size} accepted + ${processedWithoutAnswer.length} processed without an answer = ${results.size} distinct results ` +
        `(${acceptedWithoutResult.length} accepted without a result, ${unexpectedResults.length} results never sent or refused)`,
    },
    {
      name: 'results = acknowledged + definitively dead-lettered',
      holds: resultsUnanswered.length === 0 && unexpectedAcks.length === 0,
      detail:
        `${results.size} results, ${answered} of them acknowledged or definitively dead-lettered ` +
        `(${acknowledged.size} acknowledged + ${definitive.length} definitively dead-lettered; ` +
        `${resultsUnanswered.length} results never answered to Cognigy, ${unexpectedAcks.length} acknowledgments without a result)`,
    },
    {
      name: 'no accepted event lost',
      holds: lost.length === 0,
      detail: `${lost.length} accepted events neither acknowledged nor dead-lettered`,
    },
    {
      name: 'no event acknowledged twice',
      holds: duplicateAcks.length === 0,
      detail: `${duplicateAcks.length} events acknowledged more than once (${counts.surplusAcknowledgements} surplus acknowledgments)`,
    },
    {
      name: 'no event with two results',
      holds: duplicateResults.length === 0,
      detail: `${duplicateResults.length} events with more than one result (${counts.surplusResults} surplus result records)`,
    },
  ];
  return {
    holds: checks.every((c) => c.holds),
    counts,
    checks,
    examples: {
      lost: lost.slice(0, EXAMPLES),
      acceptedWithoutResult: acceptedWithoutResult.slice(0, EXAMPLES),
      unexpectedResults: unexpectedResults.slice(0, EXAMPLES),
      resultsUnanswered: resultsUnanswered.slice(0, EXAMPLES),
      unexpectedAcknowledgements: unexpectedAcks.slice(0, EXAMPLES),
      duplicateAcknowledged: duplicateAcks.slice(0, EXAMPLES).map(([id]) => id),
      duplicateResults: duplicateResults.slice(0, EXAMPLES).map(([id]) => id),
      definitivelyDeadLettered: definitive.slice(0, EXAMPLES),
    },
  };
}

function keys(map: ReadonlyMap<string, number>): string[] {
  return [...map.keys()];
}

function entries(map: ReadonlyMap<string, number>): [string, number][] {
  return [...map.entries()];
}

function total(map: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const n of map.values()) sum += n;
  return sum;
}
