import type { Express } from 'express';
import { listen, type RunningServer } from '../../shared/http.js';

export interface ConnectionLimits {
  /** The request line and headers must arrive within this; a connection that sends nothing is closed after it too. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this: a sender trickling bytes is cut off with 408. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (node adds a second of grace). */
  keepAliveTimeoutMs: number;
}

/**
 * The public listener: an internet-facing port, so every connection has a deadline for its headers
 * and for its whole request, and idle connections are closed. Headers stay within node's default
 * 16 KiB (431 beyond): a callback carries a signature and a few short headers.
 */
export function listenPublic(app: Express, port: number, host: string, limits: ConnectionLimits): Promise<RunningServer> {
  return listen(app, port, host, {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // node enforces both timeouts by sweeping its connections every interval (30 s by default), so a
    // 10 s deadline could hold for 40 s; at most 1 s late here, for a sweep of a list per second.
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  });
}
