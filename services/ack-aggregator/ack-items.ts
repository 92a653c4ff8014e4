import {
  ACK_STATUSES,
  ERROR_DIRECTIVES,
  type AckStatus,
  type ErrorDirective,
  type FulfillmentResult,
  type Route,
} from '../../shared/contracts.js';

/** What Cognigy is told about one callback; `sequenceIndex` is given when the batch closes. */
export interface AckItem {
  webhookId: string;
  status: AckStatus;
  errorDirective: ErrorDirective | null;
}

export type AckMapping = { ok: true; item: AckItem } | { ok: false; reason: string };

/** Cognigy's webhook ids are bounded; an event id longer than this cannot be one. */
export const MAX_WEBHOOK_ID_LENGTH = 256;

/** Routes whose callback was answered; the others carry a directive telling Cognigy why not. */
const ANSWERED: Record<Route, boolean> = { FULFILLED: true, FALLBACK: true, REJECTED: false, FAILED: false };

/**
 * One result becomes one ack item whose webhookId is the callback's eventId. An item Cognigy
 * would refuse is reported with the reason instead, so it can be dead-lettered on its own rather
 * than fail the batch it would have joined.
 */
export function toAck(result: FulfillmentResult): AckMapping {
  const webhookId = result.eventId;
  if (typeof webhookId !== 'string' || webhookId.trim() === '') return invalid('eventId is empty');
  if (webhookId.length > MAX_WEBHOOK_ID_LENGTH) return invalid(`eventId is longer than ${MAX_WEBHOOK_ID_LENGTH} characters`);
  if (!ACK_STATUSES.includes(result.ackStatus)) return invalid(`ackStatus ${String(result.ackStatus)} is not one of ${ACK_STATUSES.join(', ')}`);
  const directive = result.errorDirective ?? null;
  if (directive !== null && !ERROR_DIRECTIVES.includes(directive)) {
    return invalid(`errorDirective ${String(directive)} is not one of ${ERROR_DIRECTIVES.join(', ')}`);
  }
  if (result.ackStatus === 'ACKNOWLEDGED' && directive !== null) return invalid('an ACKNOWLEDGED item carries no errorDirective');
  if (result.ackStatus !== 'ACKNOWLEDGED' && directive === null) return invalid(`a ${result.ackStatus} item needs an errorDirective`);
  const answered = ANSWERED[result.route];
  if (answered === undefined) return invalid(`route ${String(result.route)} is unknown`);
  if (answered !== (result.ackStatus === 'ACKNOWLEDGED')) return invalid(`route ${result.route} contradicts ackStatus ${result.ackStatus}`);
  return { ok: true, item: { webhookId, status: result.ackStatus, errorDirective: directive } };
}

function invalid(reason: string): AckMapping {
  return { ok: false, reason };
}
