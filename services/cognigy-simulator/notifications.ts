import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { verify, webhookHeadersOf } from '../../shared/standard-webhooks.js';

/**
 * Dead-letter notification receiver: `POST /dlq-notifications` checks the Standard Webhooks
 * signature the way a real receiver would, records every delivery (verified or not, with the
 * verdict) and answers 204; `POST /admin/dlq-notifications/faults` makes the next calls fail, and
 * `GET /admin/dlq-notifications` lists what arrived.
 */

/** The secret the simulator verifies with unless told otherwise (local stack and tests): 32 fixed bytes. */
export const LOCAL_DLQ_NOTIFY_SECRET = `whsec_${Buffer.from('cognigy-stream-local-dlq-notify!').toString('base64')}`;

export const NOTIFICATIONS_PATH = '/dlq-notifications';

/** Deliveries older or newer than this are refused, as the spec suggests. */
const TOLERANCE_S = 300;

export interface ReceivedNotification {
  /** Arrival time (epoch ms). */
  at: number;
  webhookId: string | null;
  webhookTimestamp: string | null;
  verified: boolean;
  /** Why it did not verify. */
  reason: string | null;
  /** The status answered: 204, or 500 when a fault was injected. */
  status: number;
  /** The body as JSON, or as text when it is not JSON. */
  body: unknown;
}

export interface NotificationsState {
  /** The secret deliveries are verified with. */
  secret: string;
  readonly received: ReceivedNotification[];
  /** Calls still to be answered 500. */
  readonly failuresLeft: number;
  /** The next `count` calls are answered 500 (after being recorded). */
  failNext(count: number): void;
  /** Deliveries that verified and were answered 204: what a receiver took. */
  accepted(): ReceivedNotification[];
  reset(): void;
}

const Faults = z.object({ failNext: z.number().int().min(0) }).strict();

export function notifications(secret = LOCAL_DLQ_NOTIFY_SECRET): { router: Router; state: NotificationsState } {
  let failuresLeft = 0;
  const received: ReceivedNotification[] = [];
  const state: NotificationsState = {
    secret,
    received,
    get failuresLeft() {
      return failuresLeft;
    },
    failNext(count) {
      failuresLeft = count;
    },
    accepted: () => received.filter((n) => n.verified && n.status === 204),
    reset() {
      failuresLeft = 0;
      received.length = 0;
    },
  };

  const router = Router();
  router.post(NOTIFICATIONS_PATH, express.raw({ type: () => true, limit: '1mb' }), (req: Request, res: Response) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers = webhookHeadersOf(req.headers);
    const verdict = verify(headers, raw, [state.secret], { toleranceS: TOLERANCE_S, nowMs: Date.now() });
    const status = failuresLeft > 0 ? 500 : 204;
    if (status === 500) failuresLeft -= 1;
    received.push({
      at: Date.now(),
      webhookId: headers.id ?? null,
      webhookTimestamp: headers.timestamp ?? null,
      verified: verdict.ok,
      reason: verdict.ok ? null : verdict.reason,
      status,
      body: parseBody(raw),
    });
    if (status === 500) res.status(500).json({ error: 'injected fault' });
    else res.status(204).end();
  });
  router.get('/admin/dlq-notifications', (_req: Request, res: Response) => {
    res.json({ count: received.length, failuresLeft, received });
  });
  router.post('/admin/dlq-notifications/faults', express.json(), (req: Request, res: Response) => {
    const parsed = Faults.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid faults', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      return;
    }
    state.failNext(parsed.data.failNext);
    res.json({ failuresLeft });
  });
  router.post('/admin/dlq-notifications/reset', (_req: Request, res: Response) => {
    state.reset();
    res.json({ failuresLeft });
  });
  return { router, state };
}

function parseBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
