import { runService } from '../../shared/lifecycle.js';
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
 *   service.ts        the assembly of the above on the stage kit (shared/stage: consumer group,
 *                     crash policy, health, lag, offsets, decoding, dead-letter headers)
 */
runService('fulfillment', FulfillmentEnv, startFulfillment);
