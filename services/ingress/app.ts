import type { OutgoingHttpHeaders } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import getRawBody from 'raw-body';
import { mountOperationalRoutes } from '../../shared/http.js';
import type { Registry } from '../../shared/metrics.js';
import { signHmac } from './auth.js';
import { handleCallback, type Answer, type HandlerDeps } from './handler.js';
import { outcomeMetrics, type IngressMetrics } from './metrics.js';

export interface AppDeps extends HandlerDeps {
  registry: Registry;
  metrics: IngressMetrics;
  maxBodyBytes: number;
  maxInFlight: number;
  ready: () => boolean;
  /** Set only when SIMULATOR_ENABLED=true outside production: /simulate signs with it. */
  simulateSecret?: string;
}

/** application/json, or any application/*+json type, with optional parameters. */
const JSON_CONTENT_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * The HTTP surface. No global body parser: the webhook route reads raw bytes (with the size limit
 * enforced while streaming) so signatures are checked over exactly what was sent.
 */
export function createIngressApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are tiny and never cached: hashing each one for an ETag is wasted work.
  app.set('etag', false);
  let inFlight = 0;
  const observed = outcomeMetrics(deps.metrics);

  const answer = (res: Response, started: bigint, result: Answer) => {
    observed(result.outcome, Number(process.hrtime.bigint() - started) / 1e9);
    // Written directly rather than through res.json: this runs for every callback, and express's
    // send (content negotiation, charset handling, ETag checks) has nothing to add to a small JSON answer.
    const body = JSON.stringify(result.body);
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
    if (result.retryAfterS !== undefined) headers['retry-after'] = String(result.retryAfterS);
    res.writeHead(result.status, headers).end(body);
  };

  /**
   * Admission (in-flight cap, content type), then the raw bytes, then the callback path. One route
   * handler rather than a middleware chain: this runs for every callback.
   */
  const serve = async (req: Request, res: Response, sign?: (body: Buffer) => Record<string, string>) => {
    const started = process.hrtime.bigint();
    res.locals.started = started;
    if (inFlight >= deps.maxInFlight) {
      return answer(res, started, {
        status: 503,
        outcome: 'overloaded',
        body: { error: 'overloaded', message: 'too many requests in flight; retry later' },
        retryAfterS: deps.retryAfterS,
      });
    }
    if (!JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
      return answer(res, started, {
        status: 415,
        outcome: 'unsupported_media_type',
        body: { error: 'unsupported_media_type', message: 'expected Content-Type: application/json' },
      });
    }
    inFlight += 1;
    deps.metrics.inFlight.set(inFlight);
    try {
      // raw-body enforces the limit while streaming (and refuses a Content-Length over it up front).
      const rawBody = await getRawBody(req, { limit: deps.maxBodyBytes, length: req.headers['content-length'] });
      const headers = sign ? { ...req.headers, ...sign(rawBody) } : req.headers;
      answer(res, started, await handleCallback({ rawBody, headers }, deps));
    } finally {
      inFlight -= 1;
      deps.metrics.inFlight.set(inFlight);
    }
  };

  app.post('/webhooks/cognigy', (req: Request, res: Response, next: NextFunction) => {
    serve(req, res).catch(next);
  });

  if (deps.simulateSecret !== undefined) {
    const secret = deps.simulateSecret;
    const sign = (body: Buffer) => ({ 'x-cognigy-signature': signHmac(body, secret) });
    app.post('/simulate', (req: Request, res: Response, next: NextFunction) => {
      serve(req, res, sign).catch(next);
    });
  }

  mountOperationalRoutes(app, { registry: deps.registry, ready: deps.ready });

  app.use((error: Error & { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const started = (res.locals.started as bigint | undefined) ?? process.hrtime.bigint();
    if (error.type === 'entity.too.large') {
      return answer(res, started, {
        status: 413,
        outcome: 'too_large',
        body: { error: 'payload_too_large', message: `body exceeds ${deps.maxBodyBytes} bytes` },
      });
    }
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    deps.logger.warn({ err: error }, 'request failed');
    return answer(res, started, {
      status,
      outcome: status === 500 ? 'error' : 'invalid',
      body: status === 500 ? { error: 'internal_error' } : { error: 'bad_request', message: error.message },
    });
  });

  return app;
}
