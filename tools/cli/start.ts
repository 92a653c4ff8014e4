/**
 * `npm start`: the whole pipeline on one machine. Local Kafka and schema registry (see
 * tools/infra/launcher.ts), the Cognigy simulator standing in for Cognigy and the downstream
 * service, then ingress, fulfillment, the ack aggregator, the session writer and the operator
 * console, with a live summary every few seconds.
 * Every variable of the services' configuration can still be set in the environment.
 */
import { signHmac } from '../../services/ingress/auth.js';
import { loadConfig, runMain } from '../../shared/config.js';
import { onStopSignal } from '../../shared/lifecycle.js';
import { createLogger } from '../../shared/logging.js';
import { startLocalInfra } from '../infra/launcher.js';
import { StartEnv } from './config.js';
import { LOCAL_WEBHOOK_SECRET, startLocalPipeline } from './local-pipeline.js';

function example(port: number, secret: string, simulatorUrl: string): string {
  // The flow execution callback as Cognigy Flows post it (eventType flow.execution, NLU result in context).
  const body = JSON.stringify({
    sessionId: 'demo-session-1',
    userId: 'demo-user',
    message: 'Check order status',
    eventType: 'flow.execution',
    context: { intent: 'order_tracking', confidence: 0.94 },
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    flowName: 'OrderSupportFlow',
    actionName: 'CheckInventory',
  });
  return [
    'Send a signed callback (HMAC-SHA256 hex of the raw body):',
    `  BODY='${body}'`,
    `  SIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac '${secret}' | cut -d' ' -f2)   # ${signHmac(body, secret)}`,
    `  curl -s -H 'content-type: application/json' -H "x-cognigy-signature: sha256=$SIG" -d "$BODY" http://127.0.0.1:${port}/webhooks/cognigy`,
    'or let the ingress sign it for you:',
    `  curl -s -H 'content-type: application/json' -d "$BODY" http://127.0.0.1:${port}/simulate`,
    'then see what the session writer put into the conversation:',
    `  curl -s ${simulatorUrl}/admin/cognigy/sessions/demo-session-1/variables`,
  ].join('\n');
}

runMain(async () => {
  const config = loadConfig(StartEnv);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say('starting Kafka and the schema registry ...');
  const infra = await startLocalInfra({ log: (line) => say(`  ${line}`) });
  const pipeline = await startLocalPipeline({
    kafkaBrokers: infra.kafkaBrokers,
    schemaRegistryUrl: infra.schemaRegistryUrl,
    env: process.env,
    logger: createLogger('pipeline', config.LOG_LEVEL),
    simulatorPort: config.SIMULATOR_PORT,
    console: true,
  });
  const { ingress, fulfillment, acks, sessions, simulator } = pipeline;

  say('');
  say(`pipeline running: Kafka ${infra.kafkaBrokers} (${infra.runtime}), registry ${infra.schemaRegistryUrl}`);
  say(`  ingress      ${ingress.url}  (POST /webhooks/cognigy, POST /simulate)`);
  say(`               ${ingress.adminUrl}/metrics  (admin port: also /readyz, /healthz)`);
  say(`  fulfillment  ${fulfillment.url}/metrics`);
  say(`  acks         ${acks.url}/metrics`);
  if (sessions) say(`  sessions     ${sessions.url}/metrics  (session writer)`);
  if (pipeline.console) {
    const { handle, token, actionsAllowed } = pipeline.console;
    const given = process.env.CONSOLE_TOKEN ? 'CONSOLE_TOKEN' : 'made up for this run';
    say(`  console      ${handle.url}/  (token ${given}: ${token}; ${actionsAllowed ? 'redrive and replay allowed' : 'read-only: CONSOLE_ALLOW_ACTIONS=true allows redrive and replay'})`);
  }
  say(`  simulator    ${simulator.url}  (downstream /v1/fulfill and the Cognigy API; GET /admin/cognigy/acknowledged)`);
  say('');
  say(example(ingress.port, process.env.COGNIGY_WEBHOOK_SECRETS?.split(',')[0] ?? LOCAL_WEBHOOK_SECRET, simulator.url));
  say('');

  const summary = setInterval(() => {
    void pipeline.summary().then((s) => {
      say(
        `[${new Date().toISOString().slice(11, 19)}] received ${s.received} | fulfilled ${s.fulfilled} | fallback ${s.fallback} | ` +
          `retried ${s.retried} | dead-lettered ${s.deadLettered} | acknowledged ${s.acknowledged} | batches ${s.batches} | ` +
          `session writes ${s.sessionWrites}`,
      );
    });
  }, config.SUMMARY_INTERVAL_MS);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(summary);
    say('stopping ...');
    await pipeline.stop();
    await infra.stop();
    process.exit(0);
  };
  onStopSignal(() => void stop());
});
