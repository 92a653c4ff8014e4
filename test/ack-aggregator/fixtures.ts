import type { FulfillmentResult } from '../../shared/contracts.js';

/** A valid FULFILLED result; override what a test is about. */
export function result(overrides: Partial<FulfillmentResult> = {}): FulfillmentResult {
  return {
    eventId: 'evt-1',
    correlationId: 'corr-1',
    sessionId: 'session-1',
    route: 'FULFILLED',
    ackStatus: 'ACKNOWLEDGED',
    errorDirective: null,
    intent: 'book_flight',
    confidence: 0.95,
    threshold: 0.8,
    downstreamStatus: 200,
    response: '{"status":"fulfilled"}',
    attempts: 1,
    processedAt: new Date('2025-01-01T00:00:00Z').toISOString(),
    latencyMs: 12,
    ...overrides,
  };
}
