import { runService } from '../../shared/lifecycle.js';
import { IngressEnv } from './config.js';
import { startIngress } from './service.js';

/**
 * ingress: reads Cognigy callbacks from HTTP (POST /webhooks/cognigy), writes them to
 * cognigy.callbacks.v1 keyed by sessionId. Auth in auth.ts, validation in payload.ts, the
 * request path in handler.ts, batching and broker failure handling in publisher.ts.
 */
runService('ingress', IngressEnv, startIngress);
