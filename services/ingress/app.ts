import type { OutgoingHttpHeaders } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import getRawBody from 'raw-body';
import { mountOperationalRoutes } from '../../shared/http.js';
import type { Registry } from '../../shared/metrics.js';
import { signHmac } from './auth.js';
import { handleCallback, type Answer, type HandlerDeps } from './handler.js';
import { outcomeMetrics, type IngressMetrics } from './metrics.js';
import type { SourcePolicy } from './source-policy.js';

export interface AppDeps extends HandlerDeps {
  metrics: IngressMetrics;
  maxBodyBytes: number;
  maxInFlight: number;
  /** Who may post callbacks: INGRESS_ALLOWED_CIDRS, with X-Forwarded-For from INGRESS_TRUSTED_PROXIES. */
  sources: SourcePolicy;
  /** Set only when SIMULATOR_ENABLED=true outside production: /simulate signs with it. */
  simulateSecret?: string;
}

/** application/json, or any application/*+json type, with optional parameters. */
const JSON_CONTENT_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/** The client stopped sending before the body was complete: raw-body's abort, or the socket's reset. */
function clientWentAway(error: Error & { type?: string; code?: string }): boolean {
  return error.type === 'request.aborted' || error.code === 'ECONNRESET';
}

/**
 * The public HTTP surface: the webhook, /simulate when enabled, and /healthz for load balancers.
 * No global body parser: the webhook route reads raw bytes (with the size limit enforced while
 * streaming) so signatures are checked over exactly what was sent.
 */
export function createIngressApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are tiny and never cached: hashing each one for an ETag is wasted work.
  app.set('etag', false);
  let inFlight = 0;
  const observed = outcomeMetrics(deps.metrics);

  const answer = (res: Response, started: bigint, result: Answer, extraHeaders: OutgoingHttpHeaders = {}) => {
    observed(result.outcome, Number(process.hrtime.bigint() - started) / 1e9);
    // Written directly rather than through res.json: this runs for every callback, and express's
    // send (content negotiation, charset handling, ETag checks) has nothing to add to a small JSON answer.
    const body = JSON.stringify(result.body);
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...extraHeaders };
    if (result.retryAfterS !== undefined) headers['retry-after'] = String(result.retryAfterS);
    res.writeHead(result.status, headers).end(body);
  };

  /**
   * Admission (source, in-flight cap, content type), then the raw bytes, then the callback path. One
   * route handler rather than a middleware chain: this runs for every callback.
   */
  const serve = async (req: Request, res: Response, sign?: (body: Buffer) => Record<string, string>) => {
    const started = process.hrtime.bigint();
    res.locals.started = started;
    // Before a byte of the body is read; node discards what the refused client still sends.
    if (deps.sources.restricted && !deps.sources.allows(req.socket.remoteAddress, req.headers['x-forwarded-for'])) {
      deps.logger.info({ peer: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'] }, 'callback refused: source not allowed');
      return answer(res, started, { status: 403, outcome: 'forbidden', body: { error: 'forbidden' } });
    }
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

  // Load balancers probe the port they balance; readiness and metrics are on the admin port.
  app.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });

  app.use((error: Error & { type?: string; status?: number; code?: string }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const started = (res.locals.started as bigint | undefined) ?? process.hrtime.bigint();
    if (error.type === 'entity.too.large') {
      // The rest of the body is left unread, so the connection cannot carry another request.
      return answer(
        res,
        started,
        { status: 413, outcome: 'too_large', body: { error: 'payload_too_large', message: `body exceeds ${deps.maxBodyBytes} bytes` } },
        { connection: 'close' },
      );
    }
    if (clientWentAway(error)) {
      // A client's business (or the request timeout cutting off a slow sender), not the ingress's: no
      // record was written, and the answer, if the socket still takes one, says why.
      deps.logger.debug({ reason: error.message }, 'callback not read: the body ended early');
      return answer(res, started, { status: 400, outcome: 'aborted', body: { error: 'aborted', message: 'the body ended before Content-Length' } }, { connection: 'close' });
    }
    const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status === 500) deps.logger.error({ err: error }, 'request failed');
    else deps.logger.info({ err: error }, 'request refused');
    return answer(res, started, {
      status,
      outcome: status === 500 ? 'error' : 'invalid',
      body: status === 500 ? { error: 'internal_error' } : { error: 'bad_request', message: error.message },
    });
  });

  return app;
}

/** The admin surface, on its own port: liveness, readiness and Prometheus metrics. */
export function createAdminApp(opts: { registry: Registry; ready: () => boolean }): Express {
  const app = express();
  app.disable('x-powered-by');
  mountOperationalRoutes(app, opts);
  return app;
}
