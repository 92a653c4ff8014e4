import type { Logger } from '../../shared/logging.js';
import { authenticate, type AuthSettings, type SignedRequest } from './auth.js';
import type { DedupWindow } from '../../shared/dedup-window.js';
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
  /** The first delivery of each recent event id: its write, and the correlation id it was answered with. */
  dedup: DedupWindow<{ written: Promise<void>; correlationId: string }>;
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

  const earlier = deps.dedup.get(identity.eventId);
  if (earlier) {
    try {
      await earlier.written;
      return { status: 202, outcome: 'duplicate', body: { ...accepted, correlationId: earlier.correlationId, duplicate: true } };
    } catch {
      // The first delivery failed and was forgotten; this one is written afresh below.
    }
  }

  const callback = toCallback(parsed.payload, identity, req.rawBody, new Date().toISOString());
  const written = deps.publisher.publish(callback, header(req, 'traceparent'));
  deps.dedup.set(identity.eventId, { written, correlationId: identity.correlationId });
  try {
    await written;
  } catch (error) {
    deps.dedup.delete(identity.eventId);
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
