import { Agent, request } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { listen } from '../../shared/http.js';

describe('closing a server', () => {
  it('ends a keep-alive connection busy at close right after its answer, not after the keep-alive timeout', async () => {
    const app = express();
    app.get('/slow', (_req, res) => void setTimeout(() => res.send('ok'), 200));
    const running = await listen(app, 0, '127.0.0.1');
    const agent = new Agent({ keepAlive: true });
    const answered = new Promise<number>((resolve, reject) => {
      request({ port: running.port, host: '127.0.0.1', path: '/slow', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
    // The request is in flight when the close starts.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await running.close();
    expect(await answered).toBe(200);
    // Before: open until the 65 s keep-alive timeout.
    expect(Date.now() - started).toBeLessThan(2_000);
    agent.destroy();
  });
});
