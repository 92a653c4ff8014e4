import { describe, expect, it } from 'vitest';
import { toAck } from '../../services/ack-aggregator/ack-items.js';
import { result } from './fixtures.js';

describe('toAck', () => {
  it('maps a fulfilled result to an ACKNOWLEDGED item whose webhookId is the eventId', () => {
    expect(toAck(result({ eventId: 'abc' }))).toEqual({ ok: true, item: { webhookId: 'abc', status: 'ACKNOWLEDGED', errorDirective: null } });
  });

  it('keeps the directive of a rejected or timed-out result', () => {
    expect(toAck(result({ route: 'REJECTED', ackStatus: 'REJECTED', errorDirective: 'VALIDATION_FAILED' }))).toMatchObject({
      ok: true,
      item: { status: 'REJECTED', errorDirective: 'VALIDATION_FAILED' },
    });
    expect(toAck(result({ route: 'FAILED', ackStatus: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' }))).toMatchObject({
      ok: true,
      item: { status: 'TIMEOUT', errorDirective: 'WEBHOOK_TIMEOUT' },
    });
  });

  it('refuses a non-ACKNOWLEDGED item without a directive', () => {
    const mapped = toAck(result({ route: 'FAILED', ackStatus: 'REJECTED', errorDirective: null }));
    expect(mapped).toEqual({ ok: false, reason: 'a REJECTED item needs an errorDirective' });
  });

  it('refuses a directive on an ACKNOWLEDGED item', () => {
    expect(toAck(result({ errorDirective: 'WEBHOOK_TIMEOUT' })).ok).toBe(false);
  });

  it('refuses unknown statuses and directives', () => {
    expect(toAck(result({ ackStatus: 'DONE' as never })).ok).toBe(false);
    expect(toAck(result({ route: 'FAILED', ackStatus: 'REJECTED', errorDirective: 'OOPS' as never })).ok).toBe(false);
  });

  it('refuses a route that contradicts the status', () => {
    expect(toAck(result({ route: 'FULFILLED', ackStatus: 'REJECTED', errorDirective: 'VALIDATION_FAILED' })).ok).toBe(false);
    expect(toAck(result({ route: 'FAILED', ackStatus: 'ACKNOWLEDGED' })).ok).toBe(false);
  });

  it('refuses an empty or oversized eventId', () => {
    expect(toAck(result({ eventId: ' ' })).ok).toBe(false);
    expect(toAck(result({ eventId: 'x'.repeat(257) })).ok).toBe(false);
  });
});
