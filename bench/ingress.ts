import { randomUUID } from 'node:crypto';
import { signHmac } from '../services/ingress/auth.js';
import { flowExecution } from './callbacks.js';
import { describeMachine } from './machine.js';
import { paced, type PacedResult } from './paced.js';
import { benchInfra, freePort, load, startProcess, stopProcess } from './support.js';

const SECRET = 'bench-secret';
const MAX_DURATION_S = 8;
const FIXED_RATE = 1_000;
const FIXED_DURATION_S = 15;
const WARMUP_S = 15;
const CONNECTIONS = 64;

/**
 * Distinct, correctly signed callbacks, so none is deduplicated. They are made before the load
 * starts: signing inside the load generator would spend the CPU the servers under test need.
 */
function signedRequests(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const body = JSON.stringify(flowExecution(`bench-session-${i % 1_000}`, { nonce: randomUUID() }));
    return { body, headers: { 'content-type': 'application/json', 'x-cognigy-signature': `sha256=${signHmac(body, SECRET)}` } };
  });
}

const REQUESTS_PER_TARGET = 200_000;
const ROUNDS = 3;

interface Target {
  name: string;
  url: string;
  pool: { body: string; headers: Record<string, string> }[];
  next: number;
  rates: number[];
  /** At the fixed rate on a warmed but otherwise rested service (steady state). */
  fixed?: PacedResult;
  /** At the fixed rate again, right after the saturation rounds (their aftermath: a bigger heap, its collections). */
  fixedAfter?: PacedResult;
  errors: number;
}

function target(name: string, port: number): Target {
  return { name, url: `http://127.0.0.1:${port}/webhooks/cognigy`, pool: signedRequests(REQUESTS_PER_TARGET), next: 0, rates: [], errors: 0 };
}

function take(t: Target) {
  return t.pool[t.next++ % t.pool.length]!;
}

async function maxRate(t: Target, durationS: number): Promise<number> {
  const result = await load({
    url: t.url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: durationS,
    requests: [{ setupRequest: (req: object) => ({ ...req, ...take(t) }) }],
  });
  t.errors += result.non2xx + result.errors;
  return result.requests.average;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

function row(t: Target): string {
  const f = t.fixed;
  const a = t.fixedAfter;
  const failed = t.errors + (f?.failed ?? 0) + (a?.failed ?? 0);
  return `| ${t.name} | ${t.rates.map((r) => r.toFixed(0)).join(' / ')} | ${median(t.rates).toFixed(0)} | ${f?.ok} / ${f?.sent} | ${f?.p50} | ${f?.p99} | ${f?.max} | ${a?.p50} | ${a?.p99} | ${a?.max} | ${failed} |`;
}

export async function run(): Promise<void> {
  const infra = await benchInfra();
  const ingressPort = await freePort();
  const barePort = await freePort();
  const ingress = await startProcess('services/ingress/main.ts', {
    KAFKA_BROKERS: infra.kafkaBrokers,
    SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
    TOPIC_PREFIX: `bench-${Date.now().toString(36)}.`,
    COGNIGY_WEBHOOK_SECRETS: SECRET,
    INGRESS_PORT: String(ingressPort),
    INGRESS_ADMIN_PORT: '0',
    INGRESS_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  }, ingressPort);
  const bare = await startProcess('bench/bare-express.ts', { PORT: String(barePort) }, barePort);
  try {
    const baseline = target('bare express (baseline)', barePort);
    const measured = target('ingress (verify, validate, durable write)', ingressPort);
    // Latency at the fixed rate first, each target warmed at that rate and then measured.
    for (const t of [baseline, measured]) {
      await paced({ url: t.url, rate: FIXED_RATE, durationS: WARMUP_S, next: () => take(t) });
      t.fixed = await paced({ url: t.url, rate: FIXED_RATE, durationS: FIXED_DURATION_S, next: () => take(t) });
    }
    // Then throughput, alternating: on a shared 2-core machine, drift hits both targets alike.
    for (const t of [baseline, measured]) await maxRate(t, 3);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const t of [baseline, measured]) t.rates.push(await maxRate(t, MAX_DURATION_S));
    }
    // And the fixed rate once more, straight after saturation.
    for (const t of [baseline, measured]) {
      t.fixedAfter = await paced({ url: t.url, rate: FIXED_RATE, durationS: FIXED_DURATION_S, next: () => take(t) });
    }
    const ratio = median(measured.rates) / median(baseline.rates);
    console.log(`\ningress benchmark on ${describeMachine()}; Kafka broker and registry on the same machine`);
    console.log(
      `| target | max req/s per round (autocannon, ${CONNECTIONS} conns, ${MAX_DURATION_S} s) | median | 202s at an even ${FIXED_RATE}/s for ${FIXED_DURATION_S} s | p50 ms | p99 ms | max ms | after saturation: p50 ms | p99 ms | max ms | non-2xx+errors |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    console.log(row(baseline));
    console.log(row(measured));
    console.log(`\nthroughput ratio ingress / bare express (medians): ${ratio.toFixed(2)} (target >= 0.6)`);
    console.log(`ingress p99 at an even ${FIXED_RATE} req/s: ${measured.fixed?.p99} ms (target <= 20 ms); right after saturation: ${measured.fixedAfter?.p99} ms`);
  } finally {
    await stopProcess(ingress);
    await stopProcess(bare);
    await infra.stop();
  }
}
