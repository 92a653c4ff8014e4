import { createHash, randomUUID } from 'node:crypto';
import type { CognigyCallback } from '../../shared/contracts.js';
import type { FieldIssue, FieldReader, Fields } from './callback-fields.js';
import { eventTypeOf } from './event-types.js';

export type ParsedPayload =
  | { ok: true; fields: Fields }
  | { ok: false; error: 'invalid_json' | 'invalid_payload'; issues: FieldIssue[] };

/**
 * Parses the raw body and reads its fields; issues name the field at fault by the path it was
 * sent at. Any JSON object with a sessionId is a callback: the rest is read where it is found.
 */
export function parsePayload(rawBody: Buffer, reader: FieldReader): ParsedPayload {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch (error) {
    return { ok: false, error: 'invalid_json', issues: [{ path: '', message: (error as Error).message }] };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: 'invalid_payload', issues: [{ path: '', message: 'expected a JSON object' }] };
  }
  const read = reader.read(json as Record<string, unknown>);
  return read.ok ? read : { ok: false, error: 'invalid_payload', issues: read.issues };
}

export interface Identity {
  eventId: string;
  correlationId: string;
}

/** event-id: the webhook-id header if sent, else sha256 of the raw body; correlation-id: header, payload, new. */
export function identify(rawBody: Buffer, webhookId: string | undefined, correlationHeader: string | undefined, payloadCorrelationId: string | null): Identity {
  return {
    eventId: webhookId || createHash('sha256').update(rawBody).digest('hex'),
    correlationId: correlationHeader || payloadCorrelationId || randomUUID(),
  };
}

function occurredAt(timestamp: string | number | null): string | null {
  if (timestamp === null) return null;
  const date = typeof timestamp === 'number' ? new Date(timestamp < 1e12 ? timestamp * 1000 : timestamp) : new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString();
}

const json = (value: unknown) => (value === null ? null : JSON.stringify(value));

/** The CognigyCallback record for a callback's fields. */
export function toCallback(fields: Fields, identity: Identity, rawBody: Buffer, receivedAt: string): CognigyCallback {
  return {
    eventId: identity.eventId,
    correlationId: identity.correlationId,
    sessionId: fields.sessionId,
    userId: fields.userId,
    eventType: eventTypeOf(fields),
    eventTypeRaw: fields.eventType,
    intent: fields.intent,
    confidence: fields.confidence,
    text: fields.text,
    flowName: fields.flow,
    actionName: fields.actionName,
    entities: json(fields.entities),
    variables: json(fields.variables),
    occurredAt: occurredAt(fields.timestamp),
    receivedAt,
    rawBody,
  };
}
