import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngress, type IngressHandle } from '../../services/ingress/service.js';
import { Header } from '../../shared/headers.js';
import { acceptedFixtures, refusedFixtures } from '../support/callback-fixtures.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { waitFor } from '../support/wait.js';
import { startHarness, type Harness } from '../fulfillment/support.js';
import { ingressConfig, postSigned } from './support.js';

/**
 * Every fixture of the corpus, signed, through the real ingress and fulfillment: accepted shapes end
 * in the result their fields imply, refused ones are answered 400 naming the field and never written.
 */
interface Mode {
  mode: string;
  env: Record<string, string>;
  answer: { env: Record<string, string>; code: number; status: string };
}

describe.each<Mode>([
  { mode: 'at-least-once', env: {}, answer: { env: {}, code: 202, status: 'accepted' } },
  { mode: 'exactly-once', env: { EXACTLY_ONCE: 'true' }, answer: { env: { INGRESS_ACCEPTED_STATUS: 'success', INGRESS_ACCEPTED_CODE: '200' }, code: 200, status: 'success' } },
])('the callback corpus end to end ($mode)', ({ env, answer }) => {
  let h: Harness;
  let ingress: IngressHandle;
  let callbacks: { records: ReadRecord[]; stop(): Promise<void> };

  beforeAll(async () => {
    h = await startHarness({ CONFIDENCE_THRESHOLD: '0.8', ...env });
    ingress = await startIngress(
      ingressConfig({
        KAFKA_BROKERS: h.config.KAFKA_BROKERS.join(','),
        SCHEMA_REGISTRY_URL: h.config.SCHEMA_REGISTRY_URL,
        TOPIC_PREFIX: h.config.TOPIC_PREFIX,
        ...answer.env,
      }),
    );
    callbacks = await startTopicReader(h.config.KAFKA_BROKERS.join(','), [h.topics.callbacks]);
  });
  afterAll(async () => {
    await callbacks?.stop();
    await ingress?.stop();
    await h?.stop();
  });

  it('answers every refused fixture 400 with the field named, and every accepted one with the configured answer; routes each by the fields it was read from', async () => {
    for (const fixture of refusedFixtures()) {
      const sent = await postSigned(ingress.url, fixture.rawBody.toString('utf8'));
      expect(sent.status, fixture.name).toBe(400);
      expect(sent.json.error, fixture.name).toBe(fixture.refused!.error);
      expect((sent.json.issues as { path: string }[]).map((i) => i.path), fixture.name).toEqual(fixture.refused!.paths);
    }

    const accepted = new Map<string, (typeof fixtures)[number]>();
    const fixtures = acceptedFixtures();
    for (const fixture of fixtures) {
      const sent = await postSigned(ingress.url, fixture.rawBody.toString('utf8'));
      expect(sent.status, fixture.name).toBe(answer.code);
      expect(sent.json, fixture.name).toMatchObject({ status: answer.status, eventId: expect.any(String), correlationId: expect.any(String) });
      expect(Date.parse(String(sent.json.timestamp)), fixture.name).not.toBeNaN();
      accepted.set(String(sent.json.eventId), fixture);
    }

    const results = await h.waitForResults([...accepted.keys()]);
    for (const [eventId, fixture] of accepted) {
      const [only, ...more] = results.get(eventId)!;
      expect(more, fixture.name).toHaveLength(0);
      expect(only!.result, fixture.name).toMatchObject({
        sessionId: fixture.record!.sessionId ?? only!.result.sessionId,
        route: fixture.route,
        intent: fixture.record!.intent ?? only!.result.intent,
        confidence: fixture.record!.confidence ?? only!.result.confidence,
      });
      // A downstream call exactly when the route says so.
      expect(h.simulator.downstream.callsFor(eventId), fixture.name).toHaveLength(fixture.route === 'FULFILLED' ? 1 : 0);
    }

    // Every result is written after its callback record, so the callbacks topic is complete by now:
    // one record per accepted fixture, none for a refused one.
    await waitFor(() => callbacks.records.length >= accepted.size, { what: 'the callback records' });
    expect(callbacks.records.map((r) => r.headers[Header.eventId]).sort()).toEqual([...accepted.keys()].sort());

    const metrics = await (await fetch(`${ingress.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ingress_callbacks_total\{event_type="other"[^}]*\} 1$/m);
  });
});
