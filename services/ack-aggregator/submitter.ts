import { submitRetryPolicy, type BackoffSettings } from '../../shared/cognigy/backoff.js';
import type { AckRequest } from './batching.js';
import type { AckAnswer, CognigyClient } from './cognigy-client.js';

export interface SubmitEvents {
  /** A retriable failure; the next attempt follows after `delayMs`. */
  onRetry?: (error: unknown, delayMs: number, attempt: number) => void;
}

export interface Submitted extends AckAnswer {
  attempts: number;
}

/**
 * Sends one batch until Cognigy takes it: retriable failures (429, 5xx, network, count mismatch,
 * refused credentials) are retried with the submit backoff, for as long as it takes; a rejection
 * (400) is thrown at once; `signal` (shutdown) ends the attempts and leaves the batch planned.
 */
export async function submitBatch(
  client: CognigyClient,
  request: AckRequest,
  backoff: BackoffSettings,
  signal: AbortSignal,
  events: SubmitEvents = {},
): Promise<Submitted> {
  const policy = submitRetryPolicy(backoff);
  const listener = policy.onRetry((reason) => {
    if ('error' in reason) events.onRetry?.(reason.error, reason.delay, reason.attempt);
  });
  let attempts = 0;
  try {
    const answer = await policy.execute(() => {
      attempts += 1;
      return client.acknowledge(request, signal);
    }, signal);
    return { ...answer, attempts };
  } finally {
    listener.dispose();
  }
}
