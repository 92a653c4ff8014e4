import { randomUUID } from 'node:crypto';
import { signHmac } from '../services/ingress/auth.js';
import { describeMachine } from './machine.js';
import { paced, type PacedResult } from './paced.js';
import { benchInfra, freePort, load, startProcess, stopProcess, type LoadResult } from './support.js';

const SECRET = 'bench-secret';
const MAX_DURATION_S = 10;
const FIXED_RATE = 1_000;
const FIXED_DURATION_S = 15;
const CONNECTIONS = 64;

/**
 * Distinct, correctly signed callbacks, so none is deduplicated. They are made before the load
 * starts: signing inside the load generator would spend the CPU the servers under test need.
 */
function signedRequests(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const body = JSON.stringify({
      eventType: 'intent_fulfillment',
      sessionId: `bench-session-${i % 1_000}`,
      userId: 'bench-user',
      intent: 'book_flight',
      confidence: 0.91,
      entities: { destination: 'Lisbon' },
      text: 'I want to fly to Lisbon next Friday',
      nonce: randomUUID(),
    });
    return { body, headers: { 'content-type': 'application/json', 'x-cognigy-signature': `sha256=${signHmac(body, SECRET)}` } };
  });
}

const REQUESTS_PER_TARGET = 150_000;

async function measure(url: string): Promise<{ max: LoadResult; fixed: PacedResult }> {
  const pool = signedRequests(REQUESTS_PER_TARGET);
  let next = 0;
  const base = {
    url: `${url}/webhooks/cognigy`,
    method: 'POST' as const,
    requests: [{ setupRequest: (req: object) => ({ ...req, ...pool[next++ % pool.length] }) }],
  };
  await load({ ...base, connections: CONNECTIONS, duration: 3 });
  const max = await load({ ...base, connections: CONNECTIONS, duration: MAX_DURATION_S });
  const fixed = await paced({ url: base.url, rate: FIXED_RATE, durationS: FIXED_DURATION_S, next: () => pool[next++ % pool.length]! });
  return { max, fixed };
}

function row(name: string, r: { max: LoadResult; fixed: PacedResult }): string {
  const non2xx = r.max.non2xx + r.max.errors + r.fixed.failed;
  return `| ${name} | ${r.max.requests.average.toFixed(0)} | ${r.fixed.ok} / ${r.fixed.sent} | ${r.fixed.p50} | ${r.fixed.p99} | ${r.fixed.max} | ${non2xx} |`;
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
    INGRESS_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  }, ingressPort);
  const bare = await startProcess('bench/bare-express.ts', { PORT: String(barePort) }, barePort);
  try {
    const baseline = await measure(`http://127.0.0.1:${barePort}`);
    const measured = await measure(`http://127.0.0.1:${ingressPort}`);
    const ratio = measured.max.requests.average / baseline.max.requests.average;
    console.log(`\ningress benchmark on ${describeMachine()}; Kafka broker and registry on the same machine`);
    console.log(`| target | max req/s (autocannon, ${CONNECTIONS} conns) | 202s at an even ${FIXED_RATE}/s for ${FIXED_DURATION_S} s | p50 ms | p99 ms | max ms | non-2xx+errors |`);
    console.log('|---|---|---|---|---|---|---|');
    console.log(row('bare express (baseline)', baseline));
    console.log(row('ingress (verify, validate, durable write)', measured));
    console.log(`\nthroughput ratio ingress / bare express: ${ratio.toFixed(2)} (target >= 0.6)`);
    console.log(`ingress p99 at an even ${FIXED_RATE} req/s: ${measured.fixed.p99} ms (target <= 20 ms)`);
  } finally {
    await stopProcess(ingress);
    await stopProcess(bare);
    await infra.stop();
  }
}
