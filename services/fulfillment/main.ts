import { loadConfig, runMain } from '../../shared/config.js';
import { onShutdown } from '../../shared/lifecycle.js';
import { createLogger } from '../../shared/logging.js';
import { FulfillmentEnv } from './config.js';
import { startFulfillment } from './service.js';

/**
 * fulfillment (consumer group FULFILLMENT_GROUP_ID) reads cognigy.callbacks.v1 and the retry tiers
 * cognigy.callbacks.retry.<n>; writes one FulfillmentResult per callback to
 * cognigy.fulfillment.results.v1, failed callbacks to the next retry tier or cognigy.callbacks.dlq.
 *
 * Where each decision is made:
 *   routing.ts        confidence threshold -> downstream call or FALLBACK
 *   downstream-client the call: timeout, circuit breaker, Idempotency-Key, which failures retry
 *   decisions.ts      retry tier or DLQ, and the ack (route, ackStatus, errorDirective) of a result
 *   retry-policy.ts   when the next attempt is due
 *   processor.ts      one record from decode to output records
 *   intake.ts         what is taken from Kafka: key order, back-pressure, retry tiers paused until due
 *   output.ts         writing outputs and committing offsets (at-least-once or one transaction)
 *   service.ts        wiring of all of the above
 */
runMain(async () => {
  const config = loadConfig(FulfillmentEnv);
  const logger = createLogger('fulfillment', config.LOG_LEVEL);
  let shutdown: () => Promise<void> = async () => {};
  const fulfillment = await startFulfillment(config, {
    logger,
    onFatal: () => void shutdown().finally(() => process.exit(1)),
  });
  shutdown = onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [{ name: 'fulfillment', run: fulfillment.stop }]);
});
