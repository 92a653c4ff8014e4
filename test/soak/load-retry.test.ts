import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadGenerator, type Target } from '../../tools/soak/load.js';

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

const portOf = (server: { address(): AddressInfo | string | null }) => (server.address() as AddressInfo).port;

/** Answers its first request with 202 on a kept-alive connection; drops the connection as the next one arrives. */
async function closingOnSecondRequest(): Promise<{ port: number; requests: () => number }> {
  let requests = 0;
  const sockets: Socket[] = [];
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk) => {
      if (!chunk.toString('latin1').startsWith('POST ')) return;
      requests += 1;
      if (requests === 1) socket.write('HTTP/1.1 202 Accepted\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      else socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => (sockets.forEach((s) => s.destroy()), server.close()) });
  return { port: portOf(server), requests: () => requests };
}

async function accepting(): Promise<{ port: number; requests: () => number }> {
  let requests = 0;
  const server: Server = createHttpServer((req, res) => {
    requests += 1;
    req.resume();
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => (server.closeAllConnections(), server.close()) });
  return { port: portOf(server), requests: () => requests };
}

describe('the soak load generator', () => {
  it('sends a request again, to an instance in the rotation, when its reused keep-alive connection was closed under it', async () => {
    const stopping = await closingOnSecondRequest();
    const other = await accepting();
    let live: Target[] = [{ id: 'a', port: stopping.port }];
    const load = new LoadGenerator({
      runId: 'retry',
      secret: 's',
      rate: 10,
      durationMs: 200,
      duplicates: 0,
      // The stopping instance leaves the rotation once it has had its two requests.
      targets: () => (stopping.requests() >= 2 ? (live = [{ id: 'b', port: other.port }]) : live),
      phase: () => 'steady',
    });
    await load.run();
    expect(stopping.requests()).toBe(2);
    expect(other.requests()).toBe(1);
    expect(Object.fromEntries(load.outcomes.get('steady') ?? [])).toEqual({ '2xx': 2, retried: 1 });
    expect(load.accepted.size).toBe(2);
  });
});
