import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngressEnv } from '../../services/ingress/config.js';
import { loadConfig } from '../../shared/config.js';
import { post, serveRecording, type ServedIngress } from './http-harness.js';

let ingress: ServedIngress;

beforeAll(async () => {
  ingress = await serveRecording({ SIMULATOR_ENABLED: 'true', NODE_ENV: 'development' });
});

afterAll(async () => {
  await ingress?.close();
});

describe('the public port', () => {
  it('serves the webhook, /simulate when enabled, and /healthz for load balancers; not readiness or metrics', async () => {
    expect((await post(ingress.port, JSON.stringify({ sessionId: 'public' }))).status).toBe(202);
    const simulated = await fetch(`${ingress.url}/simulate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sessionId":"simulated"}' });
    expect(simulated.status).toBe(202);
    expect((await fetch(`${ingress.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${ingress.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${ingress.url}/readyz`)).status).toBe(404);
    expect(ingress.produced.map((c) => c.sessionId)).toEqual(['public', 'simulated']);
  });
});

describe('the admin port', () => {
  it('serves health, readiness and Prometheus metrics, and takes no callback', async () => {
    expect((await fetch(`${ingress.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${ingress.adminUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ingress_requests_total\{outcome="accepted"[^}]*\} 2$/m);
    expect((await fetch(`${ingress.adminUrl}/webhooks/cognigy`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${ingress.adminUrl}/simulate`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

describe('configuration', () => {
  const base = { COGNIGY_WEBHOOK_SECRETS: 's' };

  it('defaults to admin port 8081 and deadlines of 10 s for headers, 30 s for a request, 65 s for an idle connection', () => {
    expect(loadConfig(IngressEnv, base)).toMatchObject({
      INGRESS_PORT: 8080,
      INGRESS_ADMIN_PORT: 8081,
      INGRESS_HEADERS_TIMEOUT_MS: 10_000,
      INGRESS_REQUEST_TIMEOUT_MS: 30_000,
      INGRESS_KEEP_ALIVE_TIMEOUT_MS: 65_000,
      INGRESS_ALLOWED_CIDRS: [],
      INGRESS_TRUSTED_PROXIES: [],
    });
    expect(loadConfig(IngressEnv, { ...base, INGRESS_PORT: '0', INGRESS_ADMIN_PORT: '0' })).toMatchObject({ INGRESS_PORT: 0, INGRESS_ADMIN_PORT: 0 });
  });

  it('stops on a bad value with one line naming the variable', () => {
    expect(() => loadConfig(IngressEnv, { ...base, INGRESS_ADMIN_PORT: 'admin' })).toThrow(/^INGRESS_ADMIN_PORT: expected an integer from 0 to 65535$/);
    expect(() => loadConfig(IngressEnv, { ...base, INGRESS_PORT: '9000', INGRESS_ADMIN_PORT: '9000' })).toThrow(/^INGRESS_ADMIN_PORT: expected a port other than INGRESS_PORT$/);
    expect(() => loadConfig(IngressEnv, { ...base, INGRESS_REQUEST_TIMEOUT_MS: '50' })).toThrow(/^INGRESS_REQUEST_TIMEOUT_MS: expected an integer from 100 to 600000$/);
    expect(() => loadConfig(IngressEnv, { ...base, INGRESS_HEADERS_TIMEOUT_MS: '20000', INGRESS_REQUEST_TIMEOUT_MS: '15000' })).toThrow(
      /^INGRESS_HEADERS_TIMEOUT_MS: expected at most INGRESS_REQUEST_TIMEOUT_MS \(15000\)$/,
    );
  });
});
