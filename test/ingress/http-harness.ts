/**
 * The ingress's real HTTP surface (both listeners, configured from its env schema) over a publisher
 * that records what it was asked to write, and a client that writes requests byte for byte, so a
 * test can lie about Content-Length, trickle a body or leave a socket idle.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { signHmac } from '../../services/ingress/auth.js';
import { serveHttp } from '../../services/ingress/http-surface.js';
import { ingressMetrics } from '../../services/ingress/metrics.js';
import type { CognigyCallback } from '../../shared/contracts.js';
import { createMetricsRegistry, type Registry } from '../../shared/metrics.js';
import { ingressConfig, SECRET } from './support.js';

export interface ServedIngress {
  url: string;
  port: number;
  adminUrl: string;
  /** Every callback the ingress asked to have written. */
  produced: CognigyCallback[];
  /** Log lines at warn level and above. */
  warnings: { level: number; msg: string }[];
  registry: Registry;
  /** Open connections on the public port. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** The ingress as `startIngress` serves it, minus Kafka: env as for the service, ports chosen free. */
export async function serveRecording(env: Record<string, string> = {}): Promise<ServedIngress> {
  const produced: CognigyCallback[] = [];
  const warnings: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { level: number; msg: string }) });
  const registry = createMetricsRegistry('ingress');
  const surface = await serveHttp(ingressConfig(env), {
    publisher: {
      publish: async (callback) => {
        produced.push(callback);
      },
    },
    ready: () => true,
    registry,
    metrics: ingressMetrics(registry),
    logger,
  });
  const server = surface.public.server;
  return {
    url: surface.public.url,
    port: surface.public.port,
    adminUrl: surface.admin.url,
    produced,
    warnings,
    registry,
    connections: () => new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    close: async () => {
      server.closeAllConnections();
      await surface.public.close();
      await surface.admin.close();
    },
  };
}

/** What became of a request: the status the server answered, or that it closed without answering. */
export interface Exchange {
  status: number | 'closed';
  body: string;
  elapsedMs: number;
}

export interface RawRequest {
  /** The request as written on the wire: request line, headers, blank line, body. */
  bytes: Buffer;
  /** Write the bytes from this offset on one at a time, every `trickleMs` (a slow sender). */
  trickleFrom?: number;
  trickleMs?: number;
  /** After writing, half-close (`end`: the sender is done) or drop (`destroy`) the connection. */
  then?: 'end' | 'destroy';
  /** Client-side deadline: past it the exchange fails, proving the server let the connection hang. */
  deadlineMs?: number;
}

/** Reads the status out of what the server sent; 'closed' when it sent nothing. */
function parse(received: Buffer, started: number): Exchange {
  const text = received.toString('latin1');
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1];
  const split = text.indexOf('\r\n\r\n');
  return { status: status ? Number(status) : 'closed', body: split >= 0 ? received.subarray(split + 4).toString('utf8') : '', elapsedMs: Date.now() - started };
}

/**
 * One request over a fresh connection, written exactly as given. The exchange ends when the socket
 * closes (requests ask for `connection: close`), so it also tells whether the server hung up.
 */
export function exchange(port: number, request: RawRequest): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let trickle: NodeJS.Timeout | undefined;
    const socket: Socket = connect(port, '127.0.0.1');
    const deadlineMs = request.deadlineMs ?? 10_000;
    const deadline = setTimeout(() => {
      clearInterval(trickle);
      socket.destroy();
      reject(new Error(`the server neither answered nor closed the connection within ${deadlineMs} ms`));
    }, deadlineMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after the answer (the server closed with request bytes unread) still leaves the answer.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(deadline);
      clearInterval(trickle);
      resolve(parse(Buffer.concat(chunks), started));
    });
    socket.on('connect', () => {
      const at = request.trickleFrom ?? request.bytes.length;
      socket.write(request.bytes.subarray(0, at));
      let sent = at;
      const finish = () => {
        if (request.then === 'end') socket.end();
        else if (request.then === 'destroy') socket.destroy();
      };
      if (sent >= request.bytes.length) return finish();
      trickle = setInterval(() => {
        if (socket.destroyed) return clearInterval(trickle);
        socket.write(request.bytes.subarray(sent, ++sent));
        if (sent >= request.bytes.length) {
          clearInterval(trickle);
          finish();
        }
      }, request.trickleMs ?? 1_000);
    });
  });
}

/** A webhook POST on the wire; `headers` replace the defaults of the same name (null drops one). */
export function webhookRequest(
  body: Buffer | string,
  headers: Record<string, string | null> = {},
  path = '/webhooks/cognigy',
): { bytes: Buffer; headLength: number; headerBytes: number } {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const merged: Record<string, string | null> = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(bytes.length),
    'x-cognigy-signature': `sha256=${signHmac(bytes, SECRET)}`,
    connection: 'close',
    ...headers,
  };
  const sent = Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== null);
  const head = Buffer.from([`POST ${path} HTTP/1.1`, ...sent.map(([name, value]) => `${name}: ${value}`)].join('\r\n') + '\r\n\r\n', 'latin1');
  const headerBytes = sent.reduce((total, [name, value]) => total + name.length + value.length, 0);
  return { bytes: Buffer.concat([head, bytes]), headLength: head.length, headerBytes };
}

/** A signed webhook POST of `body` with the usual headers, each replaceable. */
export function post(port: number, body: Buffer | string, headers: Record<string, string | null> = {}): Promise<Exchange> {
  return exchange(port, { bytes: webhookRequest(body, headers).bytes });
}

/** Chunked transfer encoding of `body` in `size`-byte chunks, with the terminating chunk. */
export function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const chunk = body.subarray(at, at + size);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/**
 * A full garbage collection: `global.gc` when node runs with --expose-gc, else the same function
 * obtained at run time (as jest's leak detector does). Undefined if neither works.
 */
export function forcedGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** heapUsed once collections have settled: several full collections with a pause between. */
export async function settledHeap(gc: (() => void) | undefined): Promise<number> {
  for (let i = 0; i < 4; i += 1) {
    gc?.();
    await sleep(50);
  }
  return getHeapStatistics().used_heap_size;
}
