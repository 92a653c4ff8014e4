import { randomUUID } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';

/**
 * Downstream fulfillment half: `POST /v1/fulfill` answers like a downstream fulfillment service,
 * with fault injection set through `POST /admin/downstream/faults` and a record of every call
 * (with its Idempotency-Key) at `GET /admin/downstream/calls`.
 */

/** An answer: an HTTP status, or 'hang' (no answer until the caller gives up, at most hangMs). */
const Answer = z.union([z.number().int().min(100).max(599), z.literal('hang')]);
export type Answer = z.infer<typeof Answer>;

export const DownstreamFaultsSchema = z.object({
  /** Fixed latency before every answer. */
  latencyMs: z.number().int().min(0).max(600_000),
  /** Plus a uniformly random 0..latencyJitterMs, for random latency. */
  latencyJitterMs: z.number().int().min(0).max(600_000),
  /** Share of calls answered 500. */
  errorRate: z.number().min(0).max(1),
  /** Share of calls answered 422. */
  rejectRate: z.number().min(0).max(1),
  /** Share of calls never answered (the caller's timeout fires). */
  timeoutRate: z.number().min(0).max(1),
  /** Full outage: every call answered 503 at once. */
  outage: z.boolean(),
  /** Answers for the next calls in order, before the rates apply: [500, 500] = fail twice, then normal. */
  script: z.array(Answer),
  /** Longest a hanging call is held before it is answered 504. */
  hangMs: z.number().int().min(0).max(600_000),
});
export type DownstreamFaults = z.infer<typeof DownstreamFaultsSchema>;

export const NO_FAULTS: DownstreamFaults = {
  latencyMs: 0,
  latencyJitterMs: 0,
  errorRate: 0,
  rejectRate: 0,
  timeoutRate: 0,
  outage: false,
  script: [],
  hangMs: 30_000,
};

export interface DownstreamCall {
  /** Epoch ms the call arrived. */
  at: number;
  idempotencyKey: string | null;
  correlationId: string | null;
  body: unknown;
  answer: Answer;
}

export interface DownstreamState {
  readonly faults: DownstreamFaults;
  readonly calls: DownstreamCall[];
  /** Calls being answered right now, and the most there ever were at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Merges a partial fault setting into the current one. */
  setFaults(patch: Partial<DownstreamFaults>): DownstreamFaults;
  /** No faults, no recorded calls. */
  reset(): void;
  callsFor(idempotencyKey: string): DownstreamCall[];
}

export function downstream(random: () => number = Math.random): { router: Router; state: DownstreamState } {
  let faults: DownstreamFaults = { ...NO_FAULTS, script: [] };
  const calls: DownstreamCall[] = [];
  /** One fulfillment per Idempotency-Key, so a repeated call gets the same answer body. */
  const fulfillments = new Map<string, string>();
  let inFlight = 0;
  let maxInFlight = 0;

  const state: DownstreamState = {
    get faults() {
      return faults;
    },
    calls,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    setFaults(patch) {
      faults = DownstreamFaultsSchema.parse({ ...faults, ...patch });
      return faults;
    },
    reset() {
      faults = { ...NO_FAULTS, script: [] };
      calls.length = 0;
      fulfillments.clear();
      maxInFlight = inFlight;
    },
    callsFor: (key) => calls.filter((call) => call.idempotencyKey === key),
  };

  const choose = (): Answer => {
    if (faults.script.length > 0) return faults.script.shift() as Answer;
    if (faults.outage) return 503;
    const roll = random();
    if (roll < faults.timeoutRate) return 'hang';
    if (roll < faults.timeoutRate + faults.errorRate) return 500;
    if (roll < faults.timeoutRate + faults.errorRate + faults.rejectRate) return 422;
    return 200;
  };

  const router = Router();
  router.post('/v1/fulfill', express.json({ limit: '1mb' }), (req: Request, res: Response) => {
    const answer = choose();
    const idempotencyKey = req.get('idempotency-key') ?? null;
    calls.push({ at: Date.now(), idempotencyKey, correlationId: req.get('x-correlation-id') ?? null, body: req.body, answer });
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => (inFlight -= 1));
    if (answer === 503 && faults.outage) {
      res.status(503).json({ error: 'service unavailable' });
      return;
    }
    const latency = answer === 'hang' ? faults.hangMs : faults.latencyMs + Math.floor(random() * (faults.latencyJitterMs + 1));
    const timer = setTimeout(() => reply(res, answer, idempotencyKey, req.body), latency);
    res.on('close', () => clearTimeout(timer));
  });

  function reply(res: Response, answer: Answer, idempotencyKey: string | null, body: unknown): void {
    if (answer === 'hang') {
      res.status(504).json({ error: 'held too long' });
      return;
    }
    if (answer >= 300) {
      res.status(answer).json({ error: answer >= 500 ? 'downstream failure' : 'request rejected' });
      return;
    }
    const replay = idempotencyKey !== null && fulfillments.has(idempotencyKey);
    const fulfillmentId = (idempotencyKey && fulfillments.get(idempotencyKey)) ?? randomUUID();
    if (idempotencyKey) fulfillments.set(idempotencyKey, fulfillmentId);
    const sessionId = typeof body === 'object' && body !== null && 'sessionId' in body ? body.sessionId : null;
    res.status(answer).json({ status: 'fulfilled', fulfillmentId, sessionId, replay });
  }

  router.get('/admin/downstream/faults', (_req, res) => {
    res.json(faults);
  });
  router.post('/admin/downstream/faults', express.json(), (req, res) => {
    const parsed = DownstreamFaultsSchema.partial().strict().safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid faults', issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      return;
    }
    res.json(state.setFaults(parsed.data));
  });
  router.get('/admin/downstream/calls', (req, res) => {
    const key = typeof req.query.idempotencyKey === 'string' ? req.query.idempotencyKey : undefined;
    const selected = key === undefined ? calls : state.callsFor(key);
    res.json({ count: selected.length, inFlight, maxInFlight, calls: selected });
  });
  router.post('/admin/downstream/reset', (_req, res) => {
    state.reset();
    res.json(faults);
  });

  return { router, state };
}
