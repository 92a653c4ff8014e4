import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PATHS, FieldReader, parsePathList } from '../../services/ingress/callback-fields.js';
import { eventTypeLabel, normaliseEventType } from '../../services/ingress/event-types.js';
import { identify, parsePayload, toCallback } from '../../services/ingress/payload.js';
import { acceptedFixtures, callbackFixtures, refusedFixtures } from '../support/callback-fixtures.js';

const reader = new FieldReader();
const raw = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('the conformance corpus (test/fixtures/callbacks)', () => {
  it('holds every shape the README lists, and refused cases', () => {
    const names = callbackFixtures().map((f) => f.name);
    for (const shape of ['receiver-flow-execution', 'receiver-external-action-trigger', 'intent-fulfillment', 'async-queue-job', 'webhook-endpoint', 'flow-input-object', 'underscore-intent-fulfillment']) {
      expect(names).toContain(shape);
    }
    expect(refusedFixtures().length).toBeGreaterThan(5);
  });

  it.each(acceptedFixtures().map((f) => [f.name, f] as const))('accepts %s with the expected record', (_name, fixture) => {
    const parsed = parsePayload(fixture.rawBody, reader);
    if (!parsed.ok) throw new Error(`refused: ${JSON.stringify(parsed.issues)}`);
    const identity = identify(fixture.rawBody, undefined, undefined, parsed.fields.correlationId);
    const callback = toCallback(parsed.fields, identity, fixture.rawBody, '2026-01-01T00:00:00.000Z');
    expect(callback).toMatchObject(fixture.record!);
    expect(callback.rawBody.equals(fixture.rawBody)).toBe(true);
  });

  it.each(refusedFixtures().map((f) => [f.name, f] as const))('refuses %s naming the field at fault', (_name, fixture) => {
    const parsed = parsePayload(fixture.rawBody, reader);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toBe(fixture.refused!.error);
    expect(parsed.issues.map((i) => i.path)).toEqual(fixture.refused!.paths);
    for (const issue of parsed.issues) expect(issue.message.length).toBeGreaterThan(0);
  });
});

describe('field paths', () => {
  it('reads a field from paths an operator configured instead of the defaults', () => {
    const custom = new FieldReader({ ...DEFAULT_PATHS, confidence: ['nlu.score'], intent: ['nlu.top.name'] });
    const parsed = parsePayload(raw({ sessionId: 's', confidence: 0.1, nlu: { score: 0.97, top: { name: 'refund' } } }), custom);
    expect(parsed).toMatchObject({ ok: true, fields: { confidence: 0.97, intent: 'refund' } });
  });

  it('names a configured path when the sessionId is missing there', () => {
    const custom = new FieldReader({ ...DEFAULT_PATHS, sessionId: ['session.id', 'sessionId'] });
    expect(parsePayload(raw({ session: { id: 'from-path' } }), custom)).toMatchObject({ ok: true, fields: { sessionId: 'from-path' } });
    expect(parsePayload(raw({ text: 'x' }), custom)).toMatchObject({ ok: false, issues: [{ path: 'session.id', message: 'required' }] });
  });

  it('skips a container on the way to a deeper path, but refuses one where only a value can stand', () => {
    // `input` is both a text path and the parent of `input.text`: an Input object there is no wrong type.
    expect(parsePayload(raw({ sessionId: 's', input: { intent: 'x' } }), reader)).toMatchObject({ ok: true, fields: { text: null, intent: 'x' } });
    expect(parsePayload(raw({ sessionId: 's', message: { body: 'hi' } }), reader)).toMatchObject({ ok: false, issues: [{ path: 'message' }] });
  });

  it('never reads inherited properties', () => {
    const custom = new FieldReader({ ...DEFAULT_PATHS, intent: ['constructor.name'] });
    expect(parsePayload(raw({ sessionId: 's' }), custom)).toMatchObject({ ok: true, fields: { intent: null } });
  });

  it('validates a configured path list', () => {
    expect(parsePathList('context.confidence, intentScore')).toEqual({ ok: true, paths: ['context.confidence', 'intentScore'] });
    expect(parsePathList('context..confidence')).toMatchObject({ ok: false });
    expect(parsePathList('a,,b')).toMatchObject({ ok: false });
    expect(parsePathList('has space')).toMatchObject({ ok: false });
  });
});

describe('event types', () => {
  it('normalises dotted, underscored, dashed and camelCase spellings to one canonical value', () => {
    for (const spelling of ['flow.execution', 'flow_execution', 'flowExecution', 'FlowExecution', 'FLOW_EXECUTION', 'flow-execution', 'Flow Execution']) {
      expect(normaliseEventType(spelling), spelling).toBe('flow_execution');
    }
    expect(normaliseEventType('external.action.trigger')).toBe('external_action_trigger');
    expect(normaliseEventType('...')).toBe('other');
  });

  it('counts unknown types under one label', () => {
    expect(eventTypeLabel('flow_execution')).toBe('flow_execution');
    expect(eventTypeLabel('agent_handover_requested')).toBe('other');
  });
});

describe('identify', () => {
  const body = raw({ sessionId: 's' });
  it('uses webhook-id when sent, else the sha256 of the raw body', () => {
    expect(identify(body, 'msg_1', undefined, null).eventId).toBe('msg_1');
    expect(identify(body, undefined, undefined, null).eventId).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('takes the correlation id from the header, else the payload, else a new one', () => {
    expect(identify(body, undefined, 'hdr', 'pay').correlationId).toBe('hdr');
    expect(identify(body, undefined, undefined, 'pay').correlationId).toBe('pay');
    const a = identify(body, undefined, undefined, null).correlationId;
    const b = identify(body, undefined, undefined, null).correlationId;
    expect(a).not.toBe(b);
  });
});
