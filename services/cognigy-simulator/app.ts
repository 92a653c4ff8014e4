import express, { type Express } from 'express';
import { listen, type RunningServer } from '../../shared/http.js';
import { cognigyApi, type CognigyApiState } from './cognigy-api.js';
import { downstream, type DownstreamState } from './downstream.js';
import { notifications, type NotificationsState } from './notifications.js';
import { webhooksApi, type WebhooksApiState } from './webhooks-api.js';

/**
 * A stand-in for the Cognigy platform API and for a downstream fulfillment service, with fault
 * injection and a record of everything received. Never needed in production.
 */
export interface Simulator {
  app: Express;
  downstream: DownstreamState;
  cognigy: CognigyApiState;
  /** The dead-letter notification receiver (DLQ_NOTIFY_URL = `<url>/dlq-notifications`). */
  notifications: NotificationsState;
  /** Cognigy's webhook admin API: bots' webhooks and their retry policies. */
  webhooks: WebhooksApiState;
}

export function createSimulator(): Simulator {
  const app = express();
  const down = downstream();
  const api = cognigyApi();
  const notes = notifications();
  const hooks = webhooksApi(api.state);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(down.router);
  app.use(api.router);
  app.use(notes.router);
  app.use(hooks.router);
  return { app, downstream: down.state, cognigy: api.state, notifications: notes.state, webhooks: hooks.state };
}

export interface RunningSimulator extends Simulator, RunningServer {}

/** Starts the simulator in-process (tests, benchmarks, `npm start`); port 0 picks a free port. */
export async function startSimulator(port = 0, host = '127.0.0.1'): Promise<RunningSimulator> {
  const simulator = createSimulator();
  const server = await listen(simulator.app, port, host);
  return { ...simulator, ...server };
}
