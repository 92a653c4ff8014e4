import type { AckStatus, ErrorDirective, FulfillmentResult, Route } from '../../shared/contracts.js';
import { isRetriable } from '../../shared/errors.js';
import { UndecodableRecord } from '../../shared/stage/decoder.js';
import { DownstreamRejected, DownstreamTimeout } from './errors.js';
import { nextRetry, type RetryPolicy } from './retry-policy.js';

/**
 * What happens to a callback after an attempt, and the ack Cognigy gets for it (DESIGN "Ack
 * mapping"). Written once, here; the processor only carries the answers out. Pure.
 */

/** How a callback's processing ended, for good. */
export type Ending =
  | 'fulfilled'
  | 'fallback'
  /** The downstream answered 4xx. */
  | 'downstream-rejected'
  /** The record could not be decoded. */
  | 'malformed'
  /** Attempts or the retry window used up, the last failure a timeout. */
  | 'exhausted-timeout'
  /** Attempts or the retry window used up on 5xx, network errors or an open breaker. */
  | 'exhausted-unreachable';

export interface Ack {
  route: Route;
  ackStatus: AckStatus;
  errorDirective: ErrorDirective | null;
}

export function ackFor(ending: Ending): Ack {
  switch (ending) {
    case 'fulfilled':
      return { route: 'FULFILLED', ackStatus: 'ACKNOWLEDGED', errorDirective: null };
    case 'fallback':
      return { route: 'FALLBACK', ackStatus: 'ACKNOWLEDGED', errorDirective: null };
    case 'downstream-rejected':
      return { route: 'REJECTED', ackStatus: 'REJECTED', errorDirective: 'VALIDATION_FAILED' };
    case 'malformed':
      return { route: 'REJECTED', ackStatus: 'REJECTED', errorDirective: 'PAYLOAD_MALFORMED' };
    case 'exhausted-timeout':
      return { route: 'FAILED', ackStatus: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' };
    case 'exhausted-unreachable':
      return { route: 'FAILED', ackStatus: 'REJECTED', errorDirective: 'ENGINE_UNREACHABLE' };
  }
}

/** The `dlq-reason` header. */
export type DlqReason = 'non-retriable' | 'undecodable' | 'retries-exhausted' | 'retry-window-exceeded';

export type FailureDecision =
  | { action: 'retry'; tier: number; dueAt: number }
  | { action: 'dead-letter'; reason: DlqReason; ending: Ending };

/**
 * Attempt `attempt` failed with `error`: retriable errors go to the next retry tier while the
 * policy allows; non-retriable ones, and retriable ones past the policy, go to the DLQ with a
 * definitive ending.
 */
export function decideFailure(
  error: unknown,
  attempt: number,
  policy: RetryPolicy,
  now: number,
  opts: { firstFailedAt?: number; random?: () => number } = {},
): FailureDecision {
  if (!isRetriable(error)) {
    if (error instanceof UndecodableRecord) return { action: 'dead-letter', reason: 'undecodable', ending: 'malformed' };
    if (error instanceof DownstreamRejected) return { action: 'dead-letter', reason: 'non-retriable', ending: 'downstream-rejected' };
    return { action: 'dead-letter', reason: 'non-retriable', ending: 'exhausted-unreachable' };
  }
  const next = nextRetry(policy, attempt, now, opts);
  if (next.kind === 'retry') return { action: 'retry', tier: next.tier, dueAt: next.dueAt };
  return {
    action: 'dead-letter',
    reason: next.reason === 'attempts' ? 'retries-exhausted' : 'retry-window-exceeded',
    ending: error instanceof DownstreamTimeout ? 'exhausted-timeout' : 'exhausted-unreachable',
  };
}

/** The parts of a callback a result repeats; for an undecodable record they come from key and headers. */
export interface ResultSubject {
  eventId: string;
  correlationId: string;
  sessionId: string;
  intent: string | null;
  confidence: number | null;
  receivedAt: string | null;
}

export function buildResult(
  subject: ResultSubject,
  ending: Ending,
  details: { attempts: number; threshold: number | null; downstreamStatus: number | null; response?: string | null; now: number },
): FulfillmentResult {
  const receivedAt = subject.receivedAt === null ? NaN : Date.parse(subject.receivedAt);
  return {
    eventId: subject.eventId,
    correlationId: subject.correlationId,
    sessionId: subject.sessionId,
    ...ackFor(ending),
    intent: subject.intent,
    confidence: subject.confidence,
    threshold: details.threshold,
    downstreamStatus: details.downstreamStatus,
    response: details.response ?? null,
    attempts: details.attempts,
    processedAt: new Date(details.now).toISOString(),
    // From the ingress receipt to this result, retries included; 0 when the receipt time is unknown.
    latencyMs: Number.isFinite(receivedAt) ? Math.max(0, details.now - receivedAt) : 0,
  };
}
