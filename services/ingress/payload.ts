import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { CognigyCallback } from '../../shared/contracts.js';

const sessionId = z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const shortText = z.string().max(512);
const optionalId = z.string().min(1).max(256).optional();

/** Fields any callback may carry; unknown fields are kept (and rawBody keeps every byte anyway). */
const base = {
  sessionId,
  userId: optionalId,
  correlationId: optionalId,
  text: z.string().max(65_536).optional(),
  timestamp: z.union([z.string().max(64), z.number()]).optional(),
};

const IntentFulfillment = z.looseObject({
  ...base,
  eventType: z.literal('intent_fulfillment'),
  intent: shortText.min(1),
  confidence: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1'),
  entities: z.record(z.string(), z.unknown()).optional(),
});

const FlowExecution = z.looseObject({
  ...base,
  eventType: z.literal('flow_execution'),
  flowName: shortText.min(1).optional(),
  flowId: shortText.min(1).optional(),
  intent: shortText.optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

const ExternalActionTrigger = z.looseObject({
  ...base,
  eventType: z.literal('external_action_trigger'),
  actionName: shortText.min(1),
  parameters: z.record(z.string(), z.unknown()).optional(),
});

const SeedCallback = z.discriminatedUnion('eventType', [IntentFulfillment, FlowExecution, ExternalActionTrigger]);

/** What Cognigy's own Webhook Endpoint sends: no eventType, `userId`, `sessionId`, `text`, `data`. */
const WebhookEndpoint = z.looseObject({
  ...base,
  userId: z.string().min(1).max(256),
  text: z.string().max(65_536).nullable().optional(),
  data: z.record(z.string(), z.unknown()).nullable().optional(),
});

export interface FieldIssue {
  path: string;
  message: string;
}

export type Payload = z.infer<typeof SeedCallback> | (z.infer<typeof WebhookEndpoint> & { eventType?: undefined });

export type ParsedPayload =
  | { ok: true; payload: Payload }
  | { ok: false; error: 'invalid_json' | 'invalid_payload'; issues: FieldIssue[] };

/** Parses and validates the raw body; issues name the field at fault. */
export function parsePayload(rawBody: Buffer): ParsedPayload {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch (error) {
    return { ok: false, error: 'invalid_json', issues: [{ path: '', message: (error as Error).message }] };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: 'invalid_payload', issues: [{ path: '', message: 'expected a JSON object' }] };
  }
  const hasEventType = 'eventType' in json;
  const parsed = hasEventType ? SeedCallback.safeParse(json) : WebhookEndpoint.safeParse(json);
  if (parsed.success) return { ok: true, payload: parsed.data as Payload };
  return {
    ok: false,
    error: 'invalid_payload',
    issues: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  };
}

export interface Identity {
  eventId: string;
  correlationId: string;
}

/** event-id: the webhook-id header if sent, else sha256 of the raw body; correlation-id: header, payload, new. */
export function identify(rawBody: Buffer, webhookId: string | undefined, correlationHeader: string | undefined, payloadCorrelationId: string | undefined): Identity {
  return {
    eventId: webhookId || createHash('sha256').update(rawBody).digest('hex'),
    correlationId: correlationHeader || payloadCorrelationId || randomUUID(),
  };
}

function occurredAt(timestamp: string | number | undefined): string | null {
  if (timestamp === undefined) return null;
  const date = typeof timestamp === 'number' ? new Date(timestamp < 1e12 ? timestamp * 1000 : timestamp) : new Date(timestamp);
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString();
}

/** The CognigyCallback record for a validated payload. */
export function toCallback(
  payload: Payload,
  identity: Identity,
  rawBody: Buffer,
  receivedAt: string,
): CognigyCallback {
  const p = payload as Record<string, unknown>;
  const str = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    eventId: identity.eventId,
    correlationId: identity.correlationId,
    sessionId: payload.sessionId,
    userId: payload.userId ?? null,
    eventType: payload.eventType ?? 'webhook_endpoint',
    intent: str(p.intent),
    confidence: typeof p.confidence === 'number' ? p.confidence : null,
    text: str(p.text),
    flowName: str(p.flowName) ?? str(p.flowId),
    actionName: str(p.actionName),
    entities: p.entities === undefined ? null : JSON.stringify(p.entities),
    occurredAt: occurredAt(payload.timestamp),
    receivedAt,
    rawBody,
  };
}
