import { clientSettings, connectAdmin } from '../../shared/client-settings.js';
import { createKafka, createIdempotentProducer, ensureTopics } from '../../shared/kafka.js';
import { createLogger, type Logger } from '../../shared/logging.js';
import { createMetricsRegistry, type Registry } from '../../shared/metrics.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicCatalog, topicSettingsFromEnv } from '../../shared/topic-catalog.js';
import { topicNames } from '../../shared/topics.js';
import type { IngressConfig } from './config.js';
import { serveHttp } from './http-surface.js';
import { ingressMetrics } from './metrics.js';
import { CallbackPublisher } from './publisher.js';

export interface IngressHandle {
  /** The public port: POST /webhooks/cognigy (and /simulate when enabled), /healthz. */
  url: string;
  port: number;
  /** The admin port: /healthz, /readyz, /metrics. */
  adminUrl: string;
  adminPort: number;
  /** The Prometheus registry served on the admin port's /metrics. */
  metrics: Registry;
  /** Stops intake, lets in-flight requests finish, flushes and disconnects. */
  stop(): Promise<void>;
}

/** Connects to Kafka and the registry, creates the callbacks topic if missing, and serves HTTP. */
export async function startIngress(config: IngressConfig, deps: { logger?: Logger } = {}): Promise<IngressHandle> {
  const logger = deps.logger ?? createLogger('ingress', config.LOG_LEVEL);
  const topics = topicNames(config.TOPIC_PREFIX);
  const clients = clientSettings(config, 'cognigy-ingress');
  const kafka = createKafka({ ...clients.kafka, logger });

  const admin = kafka.admin();
  await connectAdmin(admin, clients.kafka);
  await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)).filter((t) => t.role === 'callbacks'));
  await admin.disconnect();

  const serde = new TopicSerde(createRegistry(clients.registry.url, clients.registry.auth), topics.callbacks, 'CognigyCallback');
  await serde.register();

  const registry = createMetricsRegistry('ingress');
  const metrics = ingressMetrics(registry);
  // Bounded client retries: a request must learn within the produce timeout that the broker is
  // gone, so it can be answered 503 and retried by Cognigy, rather than wait forever.
  const publisher = new CallbackPublisher(
    () => createIdempotentProducer(kafka, { retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 } }),
    serde,
    topics.callbacks,
    {
      lingerMs: config.INGRESS_LINGER_MS,
      maxBatch: config.INGRESS_MAX_BATCH,
      produceTimeoutMs: config.INGRESS_PRODUCE_TIMEOUT_MS,
      halfOpenAfterMs: config.INGRESS_RETRY_AFTER_S * 1_000,
      onBatch: (size) => metrics.batchSize.observe(size),
      onSent: (seconds) => metrics.produceLatency.observe(seconds),
      onRetired: () => {
        metrics.producersReplaced.inc();
        logger.warn('a send failed: its producer is replaced by one with a new producer id');
      },
    },
  );
  await publisher.start();
  let connected = true;

  const surface = await serveHttp(config, { publisher, ready: () => connected && !publisher.refusing(), registry, metrics, logger });
  logger.info(
    { port: surface.public.port, adminPort: surface.admin.port, topic: topics.callbacks, auth: config.INGRESS_AUTH, simulate: surface.simulate, allowedCidrs: config.INGRESS_ALLOWED_CIDRS.length },
    'ingress listening',
  );

  return {
    url: surface.public.url,
    port: surface.public.port,
    adminUrl: surface.admin.url,
    adminPort: surface.admin.port,
    metrics: registry,
    stop: async () => {
      await surface.public.close();
      connected = false;
      await publisher.stop();
      await surface.admin.close();
    },
  };
}
