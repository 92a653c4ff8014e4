/**
 * The callbacks a soak sends: the shapes the ingress reads (DESIGN "ingress"), mixed the way a bot's
 * traffic would be. Most carry a confident NLU result and go downstream, some fall below the 0.80
 * threshold and are answered FALLBACK, some carry no confidence and are a downstream sync call.
 * Deterministic in the callback's number, so two runs send the same mix. Pure.
 */
import { signHmac } from '../../services/ingress/auth.js';

export type CallbackKind = 'flow-execution' | 'intent-fulfillment' | 'low-confidence' | 'webhook-endpoint';

/** Out of every 20 callbacks: 11 flow executions, 4 intent fulfillments, 3 low-confidence, 2 endpoint messages. */
const MIX: readonly CallbackKind[] = [
  ...Array<CallbackKind>(11).fill('flow-execution'),
  ...Array<CallbackKind>(4).fill('intent-fulfillment'),
  ...Array<CallbackKind>(3).fill('low-confidence'),
  ...Array<CallbackKind>(2).fill('webhook-endpoint'),
];

/** Sessions callbacks are spread over: enough for every partition, few enough that sessions repeat (ordering per key). */
const SESSIONS = 500;

export interface SignedCallback {
  eventId: string;
  kind: CallbackKind;
  body: string;
  headers: Record<string, string>;
}

/** Callback `n` of run `runId`, signed with `secret`; `webhook-id` carries its event id. */
export function signedCallback(runId: string, n: number, secret: string, at = new Date()): SignedCallback {
  // A spread stride, so neighbouring callbacks land in different slots of the mix.
  const kind = MIX[(n * 7) % MIX.length] as CallbackKind;
  const eventId = `${runId}-${n}`;
  const sessionId = `${runId}-session-${n % SESSIONS}`;
  const body = JSON.stringify(payload(kind, sessionId, n, at.toISOString()));
  return {
    eventId,
    kind,
    body,
    headers: {
      'content-type': 'application/json',
      'x-cognigy-signature': signHmac(body, secret),
      'webhook-id': eventId,
      'x-correlation-id': `corr-${eventId}`,
    },
  };
}

/** A confidence in [low, high), varying with n. */
function confidence(n: number, low: number, high: number): number {
  return Math.round((low + (((n * 37) % 100) / 100) * (high - low)) * 100) / 100;
}

function payload(kind: CallbackKind, sessionId: string, n: number, timestamp: string): Record<string, unknown> {
  switch (kind) {
    case 'flow-execution':
      return {
        sessionId,
        userId: `usr-${n % 997}`,
        message: 'Check order status',
        eventType: 'flow.execution',
        context: { intent: 'order_tracking', confidence: confidence(n, 0.85, 0.99), orderId: `ORD-${n}` },
        timestamp,
        flowName: 'OrderSupportFlow',
        actionName: 'CheckInventory',
      };
    case 'intent-fulfillment':
      return {
        sessionId,
        intent: 'book_flight',
        confidence: confidence(n, 0.82, 0.98),
        utterance: 'Book me a flight to Lisbon on Friday',
        entities: { destination: 'Lisbon', date: 'Friday' },
        context: { channel: 'voice' },
        timestamp,
      };
    case 'low-confidence':
      return {
        sessionId,
        userId: `usr-${n % 997}`,
        message: 'hmm, maybe the other thing',
        eventType: 'flow.execution',
        context: { intent: 'order_tracking', confidence: confidence(n, 0.3, 0.75) },
        timestamp,
      };
    case 'webhook-endpoint':
      return { userId: `usr-${n % 997}`, sessionId, text: 'I need help with my invoice', data: { invoiceId: `INV-${n}`, sentAt: timestamp } };
  }
}
