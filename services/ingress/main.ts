import { loadConfig, runMain } from '../../shared/config.js';
import { onShutdown } from '../../shared/lifecycle.js';
import { createLogger } from '../../shared/logging.js';
import { IngressEnv } from './config.js';
import { startIngress } from './service.js';

/**
 * ingress: reads Cognigy callbacks from HTTP (POST /webhooks/cognigy), writes them to
 * cognigy.callbacks.v1 keyed by sessionId. Auth in auth.ts, validation in payload.ts, the
 * request path in handler.ts, batching and broker failure handling in publisher.ts.
 */
runMain(async () => {
  const config = loadConfig(IngressEnv);
  const logger = createLogger('ingress', config.LOG_LEVEL);
  const ingress = await startIngress(config, logger);
  onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [{ name: 'ingress', run: ingress.stop }]);
});
