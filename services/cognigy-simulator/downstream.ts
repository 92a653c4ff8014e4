import { Router } from 'express';

/** Downstream fulfillment half: POST /v1/fulfill with fault injection (owned by the fulfillment work). */
export interface DownstreamState {
  calls: unknown[];
}

export function downstream(): { router: Router; state: DownstreamState } {
  return { router: Router(), state: { calls: [] } };
}
