import express, { type Express } from 'express';
import { listen, type RunningServer } from '../../shared/http.js';
import { cognigyApi, type CognigyApiState } from './cognigy-api.js';
import { downstream, type DownstreamState } from './downstream.js';

/**
 * A stand-in for the Cognigy platform API and for a downstream fulfillment service, with fault
 * injection and a record of everything received. Never needed in production.
 */
export interface Simulator {
  app: Express;
  downstream: DownstreamState;
  cognigy: CognigyApiState;
}

export function createSimulator(): Simulator {
  const app = express();
  const down = downstream();
  const api = cognigyApi();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(down.router);
  app.use(api.router);
  return { app, downstream: down.state, cognigy: api.state };
}

export interface RunningSimulator extends Simulator, RunningServer {}

/** Starts the simulator in-process (tests, benchmarks, `npm start`); port 0 picks a free port. */
export async function startSimulator(port = 0, host = '127.0.0.1'): Promise<RunningSimulator> {
  const simulator = createSimulator();
  const server = await listen(simulator.app, port, host);
  return { ...simulator, ...server };
}
