/**
 * The services (the session writer unless SESSION_WRITER_ENABLED=false) and the simulator wired together in one process against a given Kafka and
 * registry: what `npm start`, the end-to-end test and the pipeline benchmark run; the operator
 * console too when asked for.
 */
import { randomBytes } from 'node:crypto';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { startAckAggregator, type AckAggregatorHandle } from '../../services/ack-aggregator/service.js';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { LOCAL_DLQ_NOTIFY_SECRET, NOTIFICATIONS_PATH } from '../../services/cognigy-simulator/notifications.js';
import { ConsoleEnv } from '../../services/console/config.js';
import { startConsole, type ConsoleHandle } from '../../services/console/service.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { startFulfillment, type FulfillmentHandle } from '../../services/fulfillment/service.js';
import { IngressEnv } from '../../services/ingress/config.js';
import { startIngress, type IngressHandle } from '../../services/ingress/service.js';
import { SessionWriterEnv } from '../../services/session-writer/config.js';
import { startSessionWriter, type SessionWriterHandle } from '../../services/session-writer/service.js';
import { loadConfig } from '../../shared/config.js';
import type { Logger } from '../../shared/logging.js';
import type { Registry } from '../../shared/metrics.js';

export const LOCAL_WEBHOOK_SECRET = 'local-webhook-secret';

export interface LocalPipeline {
  simulator: RunningSimulator;
  ingress: IngressHandle;
  fulfillment: FulfillmentHandle;
  acks: AckAggregatorHandle;
  /** The session writer; undefined when SESSION_WRITER_ENABLED=false. */
  sessions: SessionWriterHandle | undefined;
  /** The operator console and its token, when started with `console: true`. */
  console: { handle: ConsoleHandle; token: string; actionsAllowed: boolean } | undefined;
  /** Counts for the live summary, read from the services' metrics. */
  summary(): Promise<PipelineSummary>;
  stop(): Promise<void>;
}

export interface PipelineSummary {
  received: number;
  fulfilled: number;
  fallback: number;
  retried: number;
  deadLettered: number;
  acknowledged: number;
  batches: number;
  /** Session-variable writes Cognigy took. */
  sessionWrites: number;
}

export interface LocalPipelineOptions {
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  /** Any service variable; wins over the local defaults below. */
  env?: Record<string, string | undefined>;
  logger: Logger;
  simulatorPort?: number;
  /**
   * Also start the operator console, reading these services' metrics. Its token is CONSOLE_TOKEN
   * when set, else one made up for this run.
   */
  console?: boolean;
}

export async function startLocalPipeline(opts: LocalPipelineOptions): Promise<LocalPipeline> {
  const simulator = await startSimulator(opts.simulatorPort ?? 0);
  // Every dead letter is also announced to the simulator's receiver (GET /admin/dlq-notifications).
  const notify = { DLQ_NOTIFY_URL: `${simulator.url}${NOTIFICATIONS_PATH}`, DLQ_NOTIFY_SECRET: LOCAL_DLQ_NOTIFY_SECRET };
  const env = {
    LOG_LEVEL: 'warn',
    ...opts.env,
    KAFKA_BROKERS: opts.kafkaBrokers,
    SCHEMA_REGISTRY_URL: opts.schemaRegistryUrl,
  };
  // A caller that lets the public port float (tests) lets the admin port float too, so that runs side
  // by side do not meet on 8081.
  const ingressAdminPort = opts.env?.INGRESS_PORT === '0' ? '0' : '8081';
  const ingress = await startIngress(
    loadConfig(IngressEnv, {
      COGNIGY_WEBHOOK_SECRETS: LOCAL_WEBHOOK_SECRET,
      SIMULATOR_ENABLED: 'true',
      INGRESS_PORT: '8080',
      INGRESS_ADMIN_PORT: ingressAdminPort,
      ...env,
    }),
    { logger: opts.logger.child({ service: 'ingress' }) },
  );
  const fulfillment = await startFulfillment(
    loadConfig(FulfillmentEnv, { DOWNSTREAM_URL: `${simulator.url}/v1/fulfill`, FULFILLMENT_PORT: '8082', ...notify, ...env }),
    { logger: opts.logger.child({ service: 'fulfillment' }) },
  );
  const acks = await startAckAggregator(
    loadConfig(AckAggregatorEnv, {
      COGNIGY_BASE_URL: simulator.url,
      COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
      COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
      ACK_AGGREGATOR_PORT: '8083',
      ...notify,
      ...env,
    }),
    { logger: opts.logger.child({ service: 'ack-aggregator' }) },
  );
  const sessionEnv = {
    SESSION_WRITER_ENABLED: 'true',
    COGNIGY_BASE_URL: simulator.url,
    COGNIGY_API_KEY: SIMULATOR_CREDENTIALS.apiKey,
    COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
    COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
    SESSION_WRITER_PORT: '8085',
    ...notify,
    ...env,
  };
  const sessionsOff = ['false', '0', 'no'].includes(sessionEnv.SESSION_WRITER_ENABLED ?? '');
  const sessions = sessionsOff
    ? undefined
    : await startSessionWriter(loadConfig(SessionWriterEnv, sessionEnv), { logger: opts.logger.child({ service: 'session-writer' }) });

  const operatorConsole = opts.console ? await startLocalConsole(env, [ingress.adminUrl, fulfillment.url, acks.url, ...(sessions ? [sessions.url] : [])], opts) : undefined;

  return {
    simulator,
    ingress,
    fulfillment,
    acks,
    sessions,
    console: operatorConsole,
    summary: async () => ({
      received: await total(ingress.metrics, 'ingress_requests_total', { outcome: 'accepted' }),
      fulfilled: await total(fulfillment.metrics, 'fulfillment_results_total', { route: 'FULFILLED' }),
      fallback: await total(fulfillment.metrics, 'fulfillment_results_total', { route: 'FALLBACK' }),
      retried: await total(fulfillment.metrics, 'fulfillment_retries_total'),
      deadLettered:
        (await total(fulfillment.metrics, 'fulfillment_dead_letters_total')) +
        (await total(acks.metrics, 'ack_dead_lettered_total')) +
        (sessions === undefined ? 0 : await total(sessions.metrics, 'session_writer_dead_lettered_total')),
      acknowledged: await total(acks.metrics, 'ack_items_processed_total'),
      batches: await total(acks.metrics, 'ack_batches_total', { outcome: 'accepted' }),
      sessionWrites: sessions === undefined ? 0 : await total(sessions.metrics, 'session_writer_calls_total', { answer: 'ok' }),
    }),
    // Upstream first, so each stage drains what the one before it already wrote.
    stop: async () => {
      await operatorConsole?.handle.stop();
      await ingress.stop();
      await fulfillment.stop();
      await acks.stop();
      await sessions?.stop();
      await simulator.close();
    },
  };
}

async function startLocalConsole(env: Record<string, string | undefined>, metricsUrls: string[], opts: LocalPipelineOptions): Promise<LocalPipeline['console']> {
  const token = env.CONSOLE_TOKEN || randomBytes(24).toString('hex');
  const config = loadConfig(ConsoleEnv, {
    // Tests let every port float; `npm start` listens on the console's own port, on this machine only.
    CONSOLE_PORT: env.INGRESS_PORT === '0' ? '0' : '8084',
    CONSOLE_HOST: '127.0.0.1',
    ...env,
    CONSOLE_TOKEN: token,
    CONSOLE_METRICS_URLS: metricsUrls.join(','),
  });
  return { handle: await startConsole(config, { logger: opts.logger.child({ service: 'console' }) }), token, actionsAllowed: config.CONSOLE_ALLOW_ACTIONS };
}

/** Sums a metric's samples, optionally only those whose labels match. */
async function total(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
