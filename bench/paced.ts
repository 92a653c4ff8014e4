import { Agent, request } from 'node:http';

export interface PacedResult {
  sent: number;
  ok: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Open-loop load at an even rate: request i leaves at start + i / rate, whatever happened to the
 * ones before, and its latency counts from that scheduled moment (no coordinated omission).
 * autocannon's rate limit instead fires each second's quota back to back, which measures bursts.
 */
export async function paced(opts: {
  url: string;
  rate: number;
  durationS: number;
  next: () => { body: string; headers: Record<string, string> };
}): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(opts.url);
  const total = Math.round(opts.rate * opts.durationS);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let sent = 0;
  const start = performance.now() + 50;
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      if (ok + failed === total) resolve();
    };
    const fire = (scheduledAt: number) => {
      const { body, headers } = opts.next();
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.once('end', () => {
            latencies.push(performance.now() - scheduledAt);
            if (res.statusCode === 202) ok += 1;
            else failed += 1;
            finish();
          });
        },
      );
      req.once('error', () => {
        failed += 1;
        finish();
      });
      req.end(body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1_000) / opts.rate <= now) {
        fire(start + (sent * 1_000) / opts.rate);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    setTimeout(tick, 50);
  });
  await done;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN) * 10) / 10;
  return { sent, ok, failed, p50: at(0.5), p99: at(0.99), max: at(1) };
}
