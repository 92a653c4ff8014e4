/**
 * `npm start`: the whole pipeline on one machine. Local Kafka and schema registry (see
 * shared/infra/launcher.ts), the Cognigy simulator standing in for Cognigy and the downstream
 * service, then ingress, fulfillment and the ack aggregator, with a live summary every few seconds.
 * Every variable of the services' configuration can still be set in the environment.
 */
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { startAckAggregator } from '../../services/ack-aggregator/service.js';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { startSimulator } from '../../services/cognigy-simulator/app.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { startFulfillment } from '../../services/fulfillment/service.js';
import { signHmac } from '../../services/ingress/auth.js';
import { IngressEnv } from '../../services/ingress/config.js';
import { startIngress } from '../../services/ingress/service.js';
import { loadConfig, runMain } from '../config.js';
import { startLocalInfra } from '../infra/launcher.js';
import { createLogger } from '../logging.js';
import type { Registry } from '../metrics.js';

const LOCAL_SECRET = 'local-webhook-secret';

/** Sums a counter's samples, optionally only those whose labels match. */
async function total(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

function example(port: number): string {
  const body = JSON.stringify({ eventType: 'intent_fulfillment', sessionId: 'demo-session-1', userId: 'demo-user', intent: 'book_flight', confidence: 0.94, entities: { destination: 'Lisbon' }, text: 'Book me a flight to Lisbon' });
  return [
    'Send a signed callback (HMAC-SHA256 of the raw body with COGNIGY_WEBHOOK_SECRETS):',
    `  BODY='${body}'`,
    `  curl -s -H 'content-type: application/json' -H "x-cognigy-signature: sha256=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac '${process.env.COGNIGY_WEBHOOK_SECRETS?.split(',')[0] ?? LOCAL_SECRET}' | cut -d' ' -f2)" -d "$BODY" http://127.0.0.1:${port}/webhooks/cognigy`,
    `  (this one's signature: ${signHmac(body, process.env.COGNIGY_WEBHOOK_SECRETS?.split(',')[0] ?? LOCAL_SECRET)})`,
    'or let the ingress sign it:',
    `  curl -s -H 'content-type: application/json' -d "$BODY" http://127.0.0.1:${port}/simulate`,
  ].join('\n');
}

runMain(async () => {
  const logger = createLogger('pipeline', process.env.LOG_LEVEL ?? 'warn');
  const say = (line: string) => process.stdout.write(`${line}\n`);

  say('starting Kafka and the schema registry ...');
  const infra = await startLocalInfra({ log: (line) => say(`  ${line}`) });
  const simulator = await startSimulator(Number(process.env.SIMULATOR_PORT ?? 8090));
  const env = {
    LOG_LEVEL: 'warn',
    ...process.env,
    KAFKA_BROKERS: infra.kafkaBrokers,
    SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
  };
  const ingress = await startIngress(
    loadConfig(IngressEnv, { COGNIGY_WEBHOOK_SECRETS: LOCAL_SECRET, SIMULATOR_ENABLED: 'true', ...env }),
    logger.child({ service: 'ingress' }),
  );
  const fulfillment = await startFulfillment(
    loadConfig(FulfillmentEnv, { DOWNSTREAM_URL: `${simulator.url}/v1/fulfill`, FULFILLMENT_PORT: '8082', ...env }),
    { logger: logger.child({ service: 'fulfillment' }) },
  );
  const acks = await startAckAggregator(
    loadConfig(AckAggregatorEnv, {
      COGNIGY_BASE_URL: simulator.url,
      COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
      COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
      ACK_AGGREGATOR_PORT: '8083',
      ...env,
    }),
    { logger: logger.child({ service: 'ack-aggregator' }) },
  );

  say('');
  say(`pipeline running: Kafka ${infra.kafkaBrokers} (${infra.runtime}), registry ${infra.schemaRegistryUrl}`);
  say(`  ingress      ${ingress.url}  (POST /webhooks/cognigy, /simulate, /metrics)`);
  say(`  fulfillment  ${fulfillment.url}/metrics`);
  say(`  acks         ${acks.url}/metrics`);
  say(`  simulator    ${simulator.url}  (downstream /v1/fulfill, Cognigy API; GET /admin/cognigy/acknowledged)`);
  say('');
  say(example(ingress.port));
  say('');

  const summary = setInterval(() => {
    void (async () => {
      const line = [
        `received ${await total(ingress.registry, 'ingress_requests_total', { outcome: 'accepted' })}`,
        `fulfilled ${await total(fulfillment.metrics, 'fulfillment_results_total', { route: 'FULFILLED' })}`,
        `fallback ${await total(fulfillment.metrics, 'fulfillment_results_total', { route: 'FALLBACK' })}`,
        `retried ${await total(fulfillment.metrics, 'fulfillment_retries_total')}`,
        `dead-lettered ${(await total(fulfillment.metrics, 'fulfillment_dead_letters_total')) + (await total(acks.registry, 'ack_dead_lettered_total'))}`,
        `acknowledged ${await total(acks.registry, 'ack_items_processed_total')}`,
        `batches ${await total(acks.registry, 'ack_batches_total', { outcome: 'accepted' })}`,
      ].join(' | ');
      say(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
    })();
  }, Number(process.env.SUMMARY_INTERVAL_MS ?? 5_000));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(summary);
    say('stopping ...');
    await ingress.stop();
    await fulfillment.stop();
    await acks.stop();
    await simulator.close();
    await infra.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
});
