/**
 * TypeScript views of the Avro records in schemas/*.avsc. The .avsc files are the source of truth;
 * these types only mirror them for the compiler.
 */
export type EventType = 'flow_execution' | 'external_action_trigger' | 'intent_fulfillment' | 'webhook_endpoint';

export interface CognigyCallback {
  eventId: string;
  correlationId: string;
  sessionId: string;
  userId: string | null;
  /** Canonical (see services/ingress/event-types.ts); any other type as sent, normalised. */
  eventType: EventType | string;
  /** The eventType as sent; null when none was. */
  eventTypeRaw: string | null;
  intent: string | null;
  confidence: number | null;
  text: string | null;
  flowName: string | null;
  actionName: string | null;
  /** JSON text of the NLU entities, when Cognigy sent any. */
  entities: string | null;
  /** JSON text of the flow variables, when sent. */
  variables: string | null;
  occurredAt: string | null;
  receivedAt: string;
  rawBody: Buffer;
}

export type Route = 'FULFILLED' | 'FALLBACK' | 'REJECTED' | 'FAILED';
export type AckStatus = 'ACKNOWLEDGED' | 'REJECTED' | 'TIMEOUT';
export type ErrorDirective = 'WEBHOOK_TIMEOUT' | 'PAYLOAD_MALFORMED' | 'ENGINE_UNREACHABLE' | 'VALIDATION_FAILED';

export const ACK_STATUSES: readonly AckStatus[] = ['ACKNOWLEDGED', 'REJECTED', 'TIMEOUT'];
export const ERROR_DIRECTIVES: readonly ErrorDirective[] = [
  'WEBHOOK_TIMEOUT',
  'PAYLOAD_MALFORMED',
  'ENGINE_UNREACHABLE',
  'VALIDATION_FAILED',
];

export interface FulfillmentResult {
  eventId: string;
  correlationId: string;
  sessionId: string;
  route: Route;
  ackStatus: AckStatus;
  errorDirective: ErrorDirective | null;
  intent: string | null;
  confidence: number | null;
  threshold: number | null;
  downstreamStatus: number | null;
  /** The downstream's answer as JSON text (at most 4 KiB), for FULFILLED results. */
  response: string | null;
  attempts: number;
  processedAt: string;
  latencyMs: number;
}

export type AckBatchPhase = 'PLANNED' | 'ACCEPTED' | 'DEAD_LETTERED';

export interface AckBatchRange {
  topic: string;
  partition: number;
  fromOffset: number;
  toOffset: number;
}

/** One entry of a batch acknowledgment, as sent to Cognigy. */
export interface AckBatchItem {
  webhookId: string;
  sequenceIndex: number;
  status: AckStatus;
  errorDirective: ErrorDirective | null;
}

export interface AckBatch {
  batchId: string;
  idempotencyKey: string;
  phase: AckBatchPhase;
  items: AckBatchRange[];
  batchSize: number;
  processedCount: number | null;
  failedCount: number | null;
  latencyMs: number | null;
  at: string;
  /** The items sent (PLANNED records; empty on outcome records). */
  statusMatrix: AckBatchItem[];
}
