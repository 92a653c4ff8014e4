import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { identify, parsePayload, toCallback } from '../../services/ingress/payload.js';

const raw = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parsePayload', () => {
  it('accepts the intent fulfillment, flow execution and external action shapes', () => {
    expect(parsePayload(raw({ eventType: 'intent_fulfillment', sessionId: 's', intent: 'book_flight', confidence: 0.9 })).ok).toBe(true);
    expect(parsePayload(raw({ eventType: 'flow_execution', sessionId: 's', flowName: 'Main' })).ok).toBe(true);
    expect(parsePayload(raw({ eventType: 'external_action_trigger', sessionId: 's', actionName: 'refund' })).ok).toBe(true);
  });

  it("accepts Cognigy's Webhook Endpoint shape (userId, sessionId, text, data)", () => {
    expect(parsePayload(raw({ userId: 'u', sessionId: 's', text: 'hello', data: { a: 1 } })).ok).toBe(true);
  });

  it('names the field at fault', () => {
    const outcome = parsePayload(raw({ eventType: 'intent_fulfillment', sessionId: 's', intent: 'x', confidence: 1.2 }));
    expect(outcome).toMatchObject({ ok: false, error: 'invalid_payload', issues: [{ path: 'confidence' }] });
    const missing = parsePayload(raw({ eventType: 'flow_execution' }));
    expect(missing).toMatchObject({ ok: false, issues: [{ path: 'sessionId' }] });
    const tooLong = parsePayload(raw({ userId: 'u', sessionId: 'x'.repeat(257) }));
    expect(tooLong).toMatchObject({ ok: false, issues: [{ path: 'sessionId' }] });
  });

  it('refuses an unknown event type and non-JSON', () => {
    expect(parsePayload(raw({ eventType: 'other', sessionId: 's' }))).toMatchObject({ ok: false, issues: [{ path: 'eventType' }] });
    expect(parsePayload(Buffer.from('{not json'))).toMatchObject({ ok: false, error: 'invalid_json' });
    expect(parsePayload(Buffer.from('[1]'))).toMatchObject({ ok: false, error: 'invalid_payload' });
  });
});

describe('identify', () => {
  const body = raw({ sessionId: 's' });
  it('uses webhook-id when sent, else the sha256 of the raw body', () => {
    expect(identify(body, 'msg_1', undefined, undefined).eventId).toBe('msg_1');
    expect(identify(body, undefined, undefined, undefined).eventId).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('takes the correlation id from the header, else the payload, else a new one', () => {
    expect(identify(body, undefined, 'hdr', 'pay').correlationId).toBe('hdr');
    expect(identify(body, undefined, undefined, 'pay').correlationId).toBe('pay');
    const a = identify(body, undefined, undefined, undefined).correlationId;
    const b = identify(body, undefined, undefined, undefined).correlationId;
    expect(a).not.toBe(b);
  });
});

describe('toCallback', () => {
  it('models the known fields and keeps every byte in rawBody', () => {
    const body = raw({ eventType: 'intent_fulfillment', sessionId: 's', intent: 'book', confidence: 0.94, entities: { city: 'Paris' }, unknownField: 42 });
    const parsed = parsePayload(body);
    if (!parsed.ok) throw new Error('expected valid');
    const callback = toCallback(parsed.payload, { eventId: 'e', correlationId: 'c' }, body, '2026-01-01T00:00:00.000Z');
    expect(callback).toMatchObject({ eventId: 'e', correlationId: 'c', sessionId: 's', eventType: 'intent_fulfillment', intent: 'book', confidence: 0.94, entities: '{"city":"Paris"}' });
    expect(callback.rawBody.equals(body)).toBe(true);
  });

  it('marks the Webhook Endpoint shape as webhook_endpoint without confidence', () => {
    const body = raw({ userId: 'u', sessionId: 's', text: 'hi', data: {} });
    const parsed = parsePayload(body);
    if (!parsed.ok) throw new Error('expected valid');
    expect(toCallback(parsed.payload, { eventId: 'e', correlationId: 'c' }, body, 'now')).toMatchObject({ eventType: 'webhook_endpoint', confidence: null, userId: 'u', text: 'hi' });
  });
});
