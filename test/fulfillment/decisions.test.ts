import { describe, expect, it } from 'vitest';
import { ackFor, buildResult, decideFailure } from '../../services/fulfillment/decisions.js';
import { DownstreamRejected, DownstreamTimeout, DownstreamUnavailable } from '../../services/fulfillment/errors.js';
import { RegistryUnavailable, UndecodableRecord } from '../../shared/stage/decoder.js';
import type { RetryPolicy } from '../../services/fulfillment/retry-policy.js';

const policy: RetryPolicy = { maxAttempts: 3, strategy: 'exponential', baseDelayMs: 1_000, maxDelayMs: 30_000, windowMs: 3_600_000, jitter: 0 };
const now = 1_700_000_000_000;

describe('ack mapping', () => {
  it('maps every ending to the ack of DESIGN', () => {
    expect(ackFor('fulfilled')).toEqual({ route: 'FULFILLED', ackStatus: 'ACKNOWLEDGED', errorDirective: null });
    expect(ackFor('fallback')).toEqual({ route: 'FALLBACK', ackStatus: 'ACKNOWLEDGED', errorDirective: null });
    expect(ackFor('downstream-rejected')).toEqual({ route: 'REJECTED', ackStatus: 'REJECTED', errorDirective: 'VALIDATION_FAILED' });
    expect(ackFor('malformed')).toEqual({ route: 'REJECTED', ackStatus: 'REJECTED', errorDirective: 'PAYLOAD_MALFORMED' });
    expect(ackFor('exhausted-timeout')).toEqual({ route: 'FAILED', ackStatus: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' });
    expect(ackFor('exhausted-unreachable')).toEqual({ route: 'FAILED', ackStatus: 'REJECTED', errorDirective: 'ENGINE_UNREACHABLE' });
  });
});

describe('after a failed attempt', () => {
  it('sends a retriable failure to the next retry tier while attempts remain', () => {
    expect(decideFailure(new DownstreamUnavailable('500', 500), 1, policy, now)).toEqual({ action: 'retry', tier: 1, dueAt: now + 1_000 });
    expect(decideFailure(new RegistryUnavailable('down'), 2, policy, now)).toEqual({ action: 'retry', tier: 2, dueAt: now + 2_000 });
  });

  it('dead-letters a 4xx at once as VALIDATION_FAILED', () => {
    expect(decideFailure(new DownstreamRejected('422', 422), 1, policy, now)).toEqual({ action: 'dead-letter', reason: 'non-retriable', ending: 'downstream-rejected' });
  });

  it('dead-letters an undecodable record at once as malformed', () => {
    expect(decideFailure(new UndecodableRecord('bad'), 1, policy, now)).toEqual({ action: 'dead-letter', reason: 'undecodable', ending: 'malformed' });
  });

  it('ends exhausted timeouts as WEBHOOK_TIMEOUT and other exhausted failures as ENGINE_UNREACHABLE', () => {
    expect(decideFailure(new DownstreamTimeout('slow'), 3, policy, now)).toEqual({ action: 'dead-letter', reason: 'retries-exhausted', ending: 'exhausted-timeout' });
    expect(decideFailure(new DownstreamUnavailable('503', 503), 3, policy, now)).toEqual({ action: 'dead-letter', reason: 'retries-exhausted', ending: 'exhausted-unreachable' });
  });

  it('dead-letters when the retry window is used up, naming that reason', () => {
    const decision = decideFailure(new DownstreamTimeout('slow'), 1, { ...policy, windowMs: 500 }, now);
    expect(decision).toEqual({ action: 'dead-letter', reason: 'retry-window-exceeded', ending: 'exhausted-timeout' });
  });

  it('treats an unknown error as not retriable and unreachable', () => {
    expect(decideFailure(new Error('bug'), 1, policy, now)).toEqual({ action: 'dead-letter', reason: 'non-retriable', ending: 'exhausted-unreachable' });
  });
});

describe('result building', () => {
  it('measures latency from the ingress receipt and repeats the subject', () => {
    const result = buildResult(
      { eventId: 'e', correlationId: 'c', sessionId: 's', intent: 'i', confidence: 0.9, receivedAt: new Date(now - 250).toISOString() },
      'fulfilled',
      { attempts: 1, threshold: 0.8, downstreamStatus: 200, response: '{"ok":true}', now },
    );
    expect(result).toEqual({
      eventId: 'e',
      correlationId: 'c',
      sessionId: 's',
      route: 'FULFILLED',
      ackStatus: 'ACKNOWLEDGED',
      errorDirective: null,
      intent: 'i',
      confidence: 0.9,
      threshold: 0.8,
      downstreamStatus: 200,
      response: '{"ok":true}',
      attempts: 1,
      processedAt: new Date(now).toISOString(),
      latencyMs: 250,
    });
  });

  it('reports latency 0 when the receipt time is unknown', () => {
    const subject = { eventId: 'e', correlationId: 'c', sessionId: 's', intent: null, confidence: null, receivedAt: null };
    expect(buildResult(subject, 'malformed', { attempts: 0, threshold: null, downstreamStatus: null, now }).latencyMs).toBe(0);
  });
});
