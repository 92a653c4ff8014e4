import { runService } from '../../shared/lifecycle.js';
import { AckAggregatorEnv } from './config.js';
import { startAckAggregator } from './service.js';

/**
 * ack-aggregator: reads cognigy.fulfillment.results.v1, acknowledges to Cognigy
 * (POST /api/v1/webhooks/batch-acknowledge) in batches of up to 500 items or ACK_WINDOW_MS, and
 * writes each batch's plan and outcome to cognigy.acks.batches.v1; results Cognigy would refuse
 * go to cognigy.callbacks.dlq. Item mapping in ack-items.ts, windows and batch identity in
 * batching.ts, the plan lifecycle in plan-lifecycle.ts, answers in cognigy-client.ts, OAuth2 in
 * shared/cognigy/auth.ts, the Kafka side in pipeline.ts, assembled on the stage kit (shared/stage) in service.ts.
 */
runService('ack-aggregator', AckAggregatorEnv, startAckAggregator);
