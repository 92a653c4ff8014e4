import { createKafka, createIdempotentProducer, ensureTopics } from '../../shared/kafka.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import { createMetricsRegistry, type Registry } from '../../shared/metrics.js';
import { listen } from '../../shared/http.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { topicNames } from '../../shared/topics.js';
import { createIngressApp } from './app.js';
import { FieldReader } from './callback-fields.js';
import { callbackPaths, type IngressConfig } from './config.js';
import { FirstDeliveries } from './first-deliveries.js';
import { eventTypeCounter, ingressMetrics } from './metrics.js';
import { CallbackPublisher } from './publisher.js';

export interface IngressHandle {
  url: string;
  port: number;
  /** The Prometheus registry served on /metrics. */
  metrics: Registry;
  /** Stops intake, lets in-flight requests finish, flushes and disconnects. */
  stop(): Promise<void>;
}

/** Connects to Kafka and the registry, creates the callbacks topic if missing, and serves HTTP. */
export async function startIngress(config: IngressConfig, deps: { logger?: Logger } = {}): Promise<IngressHandle> {
  const logger = deps.logger ?? createLogger('ingress', config.LOG_LEVEL);
  const topics = topicNames(config.TOPIC_PREFIX);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'cognigy-ingress', logger });

  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)).filter((t) => t.role === 'callbacks'));
  await admin.disconnect();

  const serde = new TopicSerde(createRegistry(config.SCHEMA_REGISTRY_URL), topics.callbacks, 'CognigyCallback');
  await serde.register();

  // Bounded client retries: a request must learn within the produce timeout that the broker is
  // gone, so it can be answered 503 and retried by Cognigy, rather than wait forever.
  const producer = createIdempotentProducer(kafka, { retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 } });
  let connected = false;
  producer.on(producer.events.CONNECT, () => (connected = true));
  producer.on(producer.events.DISCONNECT, () => (connected = false));
  await producer.connect();

  const registry = createMetricsRegistry('ingress');
  const metrics = ingressMetrics(registry);
  const publisher = new CallbackPublisher(producer, serde, topics.callbacks, {
    lingerMs: config.INGRESS_LINGER_MS,
    maxBatch: config.INGRESS_MAX_BATCH,
    produceTimeoutMs: config.INGRESS_PRODUCE_TIMEOUT_MS,
    halfOpenAfterMs: config.INGRESS_RETRY_AFTER_S * 1_000,
    onBatch: (size) => metrics.batchSize.observe(size),
    onSent: (seconds) => metrics.produceLatency.observe(seconds),
  });

  const simulate = config.SIMULATOR_ENABLED && config.NODE_ENV !== 'production';
  const app = createIngressApp({
    auth: {
      schemes: config.INGRESS_AUTH,
      hmacSecrets: config.COGNIGY_WEBHOOK_SECRETS,
      basicUsers: config.INGRESS_BASIC_USERS,
      apiKeyHeader: config.INGRESS_API_KEY_HEADER,
      apiKeys: config.COGNIGY_API_KEYS,
      standardWebhooksSecrets: config.STANDARD_WEBHOOKS_SECRETS,
      timestampToleranceS: config.INGRESS_TIMESTAMP_TOLERANCE_S,
    },
    fields: new FieldReader(callbackPaths(config)),
    accepted: { status: config.INGRESS_ACCEPTED_STATUS, code: config.INGRESS_ACCEPTED_CODE },
    onAccepted: eventTypeCounter(metrics),
    publisher,
    deliveries: new FirstDeliveries(config.INGRESS_DEDUP_WINDOW_S * 1_000, config.INGRESS_DEDUP_MAX_ENTRIES),
    retryAfterS: config.INGRESS_RETRY_AFTER_S,
    logger,
    logPayloads: config.LOG_PAYLOADS,
    registry,
    metrics,
    maxBodyBytes: config.INGRESS_MAX_BODY_BYTES,
    maxInFlight: config.INGRESS_MAX_IN_FLIGHT,
    ready: () => connected && !publisher.refusing(),
    simulateSecret: simulate ? config.COGNIGY_WEBHOOK_SECRETS[0] : undefined,
  });
  const server = await listen(app, config.INGRESS_PORT, config.INGRESS_HOST);
  logger.info({ port: server.port, topic: topics.callbacks, auth: config.INGRESS_AUTH, simulate }, 'ingress listening');

  return {
    url: server.url,
    port: server.port,
    metrics: registry,
    stop: async () => {
      await server.close();
      await producer.disconnect();
    },
  };
}
