import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, mountOperationalRoutes, type RunningServer } from '../../shared/http.js';
import { createMetricsRegistry } from '../../shared/metrics.js';

let running: RunningServer | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function readinessSeen(url: string): Promise<{ readyz: number; gauge: string | undefined }> {
  const readyz = (await fetch(`${url}/readyz`)).status;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const gauge = /^service_ready\{service="probe"\} (\S+)$/m.exec(metrics)?.[1];
  return { readyz, gauge };
}

describe('service_ready', () => {
  it('says on /metrics what /readyz answers, at each scrape', async () => {
    let ready = false;
    const app = express();
    mountOperationalRoutes(app, { registry: createMetricsRegistry('probe'), ready: () => ready });
    running = await listen(app, 0, '127.0.0.1');

    expect(await readinessSeen(running.url)).toEqual({ readyz: 503, gauge: '0' });
    ready = true;
    expect(await readinessSeen(running.url)).toEqual({ readyz: 200, gauge: '1' });
  });
});
