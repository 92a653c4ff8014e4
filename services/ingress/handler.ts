import type { Logger } from '../../shared/logging.js';
import { authenticate, type AuthSettings, type SignedRequest } from './auth.js';
import type { FirstDeliveries } from './first-deliveries.js';
import type { Outcome } from './metrics.js';
import type { FieldReader } from './callback-fields.js';
import { identify, parsePayload, toCallback } from './payload.js';
import type { CallbackPublisher } from './publisher.js';

export interface Answer {
  status: number;
  outcome: Outcome;
  body: Record<string, unknown>;
  retryAfterS?: number;
}

/** The 2xx a flow reads: some flows test the status word, so it and the code are configurable. */
export interface AcceptedAnswer {
  status: string;
  code: 200 | 202;
}

export interface HandlerDeps {
  auth: AuthSettings;
  /** Where each field of a callback body is read from. */
  fields: FieldReader;
  accepted: AcceptedAnswer;
  /** Counts each accepted callback by its canonical event type. */
  onAccepted: (eventType: string) => void;
  publisher: Pick<CallbackPublisher, 'publish'>;
  /** The first delivery of each recent event id: its write, then the correlation id it was answered with. */
  deliveries: FirstDeliveries;
  retryAfterS: number;
  logger: Logger;
  logPayloads: boolean;
}

function header(req: SignedRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * One callback, from raw bytes to a durable record: verify before parsing, validate, then answer
 * 202 only once the broker has acknowledged the write. The same path serves /simulate.
 */
export async function handleCallback(req: SignedRequest, deps: HandlerDeps): Promise<Answer> {
  const auth = authenticate(req, deps.auth);
  if (!auth.ok) {
    deps.logger.info({ reason: auth.reason }, 'callback refused: authentication failed');
    return { status: 401, outcome: 'unauthorized', body: { error: 'unauthorized' } };
  }

  const parsed = parsePayload(req.rawBody, deps.fields);
  if (!parsed.ok) {
    return { status: 400, outcome: 'invalid', body: { error: parsed.error, issues: parsed.issues } };
  }

  const identity = identify(
    req.rawBody,
    header(req, 'webhook-id'),
    header(req, 'x-correlation-id'),
    parsed.fields.correlationId,
  );
  const context = { ...identity, sessionId: parsed.fields.sessionId };

  const earlier = await deps.deliveries.earlier(identity.eventId);
  if (earlier !== undefined) {
    return accept(deps.accepted, 'duplicate', earlier, identity.eventId);
  }

  const callback = toCallback(parsed.fields, identity, req.rawBody, new Date().toISOString());
  const written = deps.publisher.publish(callback, header(req, 'traceparent'));
  deps.deliveries.track(identity.eventId, identity.correlationId, written);
  try {
    await written;
  } catch (error) {
    deps.logger.warn({ ...context, reason: (error as Error).message }, 'callback not accepted: broker unavailable');
    return {
      status: 503,
      outcome: 'unavailable',
      body: { error: 'unavailable', message: 'the event could not be stored; retry later' },
      retryAfterS: deps.retryAfterS,
    };
  }
  if (deps.logger.isLevelEnabled('debug')) {
    deps.logger.debug({ ...context, eventType: callback.eventType, ...(deps.logPayloads ? { text: callback.text } : {}) }, 'callback accepted');
  }
  deps.onAccepted(callback.eventType);
  return accept(deps.accepted, 'accepted', identity.correlationId, identity.eventId);
}

function accept(answer: AcceptedAnswer, outcome: 'accepted' | 'duplicate', correlationId: string, eventId: string): Answer {
  const body: Record<string, unknown> = { status: answer.status, correlationId, eventId, timestamp: new Date().toISOString() };
  if (outcome === 'duplicate') body.duplicate = true;
  return { status: answer.code, outcome, body };
}
