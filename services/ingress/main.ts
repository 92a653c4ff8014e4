import { runService } from '../../shared/lifecycle.js';
import { IngressEnv } from './config.js';
import { startIngress } from './service.js';

/**
 * ingress: reads Cognigy callbacks from HTTP (POST /webhooks/cognigy on INGRESS_PORT), writes them
 * to cognigy.callbacks.v1 keyed by sessionId; health, readiness and metrics on INGRESS_ADMIN_PORT.
 * Both ports in http-surface.ts, connection deadlines in listener.ts, who may post in
 * source-policy.ts, auth in auth.ts, validation in payload.ts, the request path in handler.ts,
 * batching and broker failure handling in publisher.ts.
 */
runService('ingress', IngressEnv, startIngress);
