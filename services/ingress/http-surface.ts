import { listen, type RunningServer } from '../../shared/http.js';
import type { Logger } from '../../shared/logging.js';
import type { Registry } from '../../shared/metrics.js';
import { createAdminApp, createIngressApp } from './app.js';
import { FieldReader } from './callback-fields.js';
import { callbackPaths, type IngressConfig } from './config.js';
import { FirstDeliveries } from './first-deliveries.js';
import { listenPublic } from './listener.js';
import { eventTypeCounter, type IngressMetrics } from './metrics.js';
import type { CallbackPublisher } from './publisher.js';
import { SourcePolicy } from './source-policy.js';

export interface HttpSurface {
  /** The webhook (and /simulate when enabled, and /healthz). */
  public: RunningServer;
  /** /healthz, /readyz, /metrics. */
  admin: RunningServer;
  /** POST /simulate is served: SIMULATOR_ENABLED outside production. */
  simulate: boolean;
}

/**
 * Both listeners of the ingress, configured from its env: everything between the sockets and the
 * publisher. Free of Kafka, so tests serve the very same surface over a recording publisher.
 */
export async function serveHttp(
  config: IngressConfig,
  parts: { publisher: Pick<CallbackPublisher, 'publish'>; ready: () => boolean; registry: Registry; metrics: IngressMetrics; logger: Logger },
): Promise<HttpSurface> {
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
    onAccepted: eventTypeCounter(parts.metrics),
    publisher: parts.publisher,
    deliveries: new FirstDeliveries(config.INGRESS_DEDUP_WINDOW_S * 1_000, config.INGRESS_DEDUP_MAX_ENTRIES),
    retryAfterS: config.INGRESS_RETRY_AFTER_S,
    logger: parts.logger,
    logPayloads: config.LOG_PAYLOADS,
    metrics: parts.metrics,
    maxBodyBytes: config.INGRESS_MAX_BODY_BYTES,
    maxInFlight: config.INGRESS_MAX_IN_FLIGHT,
    sources: new SourcePolicy(config.INGRESS_ALLOWED_CIDRS, config.INGRESS_TRUSTED_PROXIES),
    simulateSecret: simulate ? config.COGNIGY_WEBHOOK_SECRETS[0] : undefined,
  });
  const admin = await listen(createAdminApp({ registry: parts.registry, ready: parts.ready }), config.INGRESS_ADMIN_PORT, config.INGRESS_HOST);
  let publicServer: RunningServer;
  try {
    publicServer = await listenPublic(app, config.INGRESS_PORT, config.INGRESS_HOST, {
      headersTimeoutMs: config.INGRESS_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.INGRESS_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: config.INGRESS_KEEP_ALIVE_TIMEOUT_MS,
    });
  } catch (error) {
    await admin.close();
    throw error;
  }
  return { public: publicServer, admin, simulate };
}
