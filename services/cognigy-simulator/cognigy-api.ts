import { Router } from 'express';

/** Cognigy platform API half: OAuth2 token, batch-acknowledge (owned by the ack-aggregator work). */
export interface CognigyApiState {
  acknowledged: Map<string, number>;
}

export function cognigyApi(): { router: Router; state: CognigyApiState } {
  return { router: Router(), state: { acknowledged: new Map() } };
}
