import type { Logger } from '../../shared/logging.js';
import { authenticate, type AuthSettings, type SignedRequest } from './auth.js';
import type { FirstDeliveries } from './first-deliveries.js';
import type { Outcome } from './metrics.js';
import { identify, parsePayload, toCallback } from './payload.js';
import type { CallbackPublisher } from './publisher.js';

export interface Answer {
  status: number;
  outcome: Outcome;
  body: Record<string, unknown>;
  retryAfterS?: number;
}

export interface HandlerDeps {
  auth: AuthSettings;
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

  const parsed = parsePayload(req.rawBody);
  if (!parsed.ok) {
    return { status: 400, outcome: 'invalid', body: { error: parsed.error, issues: parsed.issues } };
  }

  const identity = identify(
    req.rawBody,
    header(req, 'webhook-id'),
    header(req, 'x-correlation-id'),
    parsed.payload.correlationId,
  );
  const context = { ...identity, sessionId: parsed.payload.sessionId };
  const accepted = { status: 'accepted', correlationId: identity.correlationId, eventId: identity.eventId };

  const earlier = await deps.deliveries.earlier(identity.eventId);
  if (earlier !== undefined) {
    return { status: 202, outcome: 'duplicate', body: { ...accepted, correlationId: earlier, duplicate: true } };
  }

  const callback = toCallback(parsed.payload, identity, req.rawBody, new Date().toISOString());
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
  return { status: 202, outcome: 'accepted', body: accepted };
}
