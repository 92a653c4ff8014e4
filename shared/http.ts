import { createServer, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, Request, Response } from 'express';
import type { Registry } from 'prom-client';
import { trackReadiness } from './metrics.js';

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts an express app; port 0 picks a free one (tests, benchmarks). `options` are node's server
 * options (timeouts of an internet-facing port); without them idle keep-alive connections are kept
 * 65 s, longer than the usual load balancer's 60 s.
 */
export function listen(app: Express, port: number, host = '0.0.0.0', options: ServerOptions = { keepAliveTimeout: 65_000 }): Promise<RunningServer> {
  const server = createServer(options, app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const actual = (server.address() as AddressInfo).port;
      resolve({
        server,
        port: actual,
        url: `http://127.0.0.1:${actual}`,
        close: () => closeServer(server),
      });
    });
  });
}

/**
 * Stops taking connections and resolves once every open one is closed. `server.close()` closes the
 * idle keep-alive connections once; a connection busy at that moment answers its request with
 * `Connection: keep-alive` and would then stay open for the whole keep-alive timeout. So every
 * answer from now on says `Connection: close`, and idle connections are closed again until none
 * is left.
 */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((done) => {
    // Requests still arriving on open connections are answered with the connection's end.
    server.on('request', (_req, res: ServerResponse) => res.setHeader('Connection', 'close'));
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      done();
    });
    server.closeIdleConnections();
  });
}

/**
 * `/healthz` (the process does its work: a supervisor restarts it on 503), `/readyz` (its
 * dependencies are usable right now), `/metrics`, which carries the same readiness as
 * `service_ready`, and `/metrics.json`, the same samples as prom-client's JSON (what the operator
 * console reads, so it needs no exposition-format parser).
 */
export function mountOperationalRoutes(app: Express, opts: { registry: Registry; ready: () => boolean; live?: () => boolean }): void {
  trackReadiness(opts.registry, opts.ready);
  app.get('/healthz', (_req: Request, res: Response) => {
    const live = opts.live?.() ?? true;
    res.status(live ? 200 : 503).json({ status: live ? 'ok' : 'stopped' });
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    const ready = opts.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready' });
  });
  app.get('/metrics', async (_req: Request, res: Response) => {
    res.type(opts.registry.contentType).send(await opts.registry.metrics());
  });
  app.get('/metrics.json', async (_req: Request, res: Response) => {
    res.json(await opts.registry.getMetricsAsJSON());
  });
}
