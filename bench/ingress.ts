import { signHmac } from '../services/ingress/auth.js';
import { describeMachine } from './machine.js';
import { benchInfra, freePort, load, startProcess, stopProcess, type LoadResult } from './support.js';

const SECRET = 'bench-secret';
const MAX_DURATION_S = 10;
const FIXED_RATE = 1_000;
const FIXED_DURATION_S = 15;
const CONNECTIONS = 64;

let counter = 0;
/** Every request is a distinct, correctly signed callback, so none is deduplicated. */
function signedRequest() {
  counter += 1;
  const body = JSON.stringify({
    eventType: 'intent_fulfillment',
    sessionId: `bench-session-${counter % 1_000}`,
    userId: 'bench-user',
    intent: 'book_flight',
    confidence: 0.91,
    entities: { destination: 'Lisbon' },
    text: 'I want to fly to Lisbon next Friday',
    seq: counter,
  });
  return { body, headers: { 'content-type': 'application/json', 'x-cognigy-signature': `sha256=${signHmac(body, SECRET)}` } };
}

async function measure(url: string): Promise<{ max: LoadResult; fixed: LoadResult }> {
  const base = { url: `${url}/webhooks/cognigy`, method: 'POST' as const, requests: [{ setupRequest: (req: object) => ({ ...req, ...signedRequest() }) }] };
  await load({ ...base, connections: CONNECTIONS, duration: 3 });
  const max = await load({ ...base, connections: CONNECTIONS, duration: MAX_DURATION_S });
  const fixed = await load({ ...base, connections: 32, overallRate: FIXED_RATE, duration: FIXED_DURATION_S });
  return { max, fixed };
}

function row(name: string, r: { max: LoadResult; fixed: LoadResult }): string {
  const non2xx = r.max.non2xx + r.fixed.non2xx + r.max.errors + r.fixed.errors;
  return `| ${name} | ${r.max.requests.average.toFixed(0)} | ${r.fixed.requests.average.toFixed(0)} | ${r.fixed.latency.p50} | ${r.fixed.latency.p99} | ${non2xx} |`;
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
    console.log(`| target | max req/s (${CONNECTIONS} conns) | req/s at fixed ${FIXED_RATE}/s | p50 ms | p99 ms | non-2xx+errors |`);
    console.log('|---|---|---|---|---|---|');
    console.log(row('bare express (baseline)', baseline));
    console.log(row('ingress (verify, validate, durable write)', measured));
    console.log(`\nthroughput ratio ingress / bare express: ${ratio.toFixed(2)} (target >= 0.6)`);
    console.log(`ingress p99 at ${FIXED_RATE} req/s: ${measured.fixed.latency.p99} ms (target <= 20 ms)`);
  } finally {
    await stopProcess(ingress);
    await stopProcess(bare);
    await infra.stop();
  }
}
