import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFulfillment, type FulfillmentHandle } from '../../services/fulfillment/service.js';
import { Header } from '../../shared/headers.js';
import { createKafka } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import { REPLAY_HEADER } from '../../shared/stage/dedup-store.js';
import { replay } from '../../shared/operations/replay.js';
import { waitFor } from '../support/wait.js';
import { makeCallback, startHarness, type Harness } from './support.js';

describe.each([
  { mode: 'at-least-once', EXACTLY_ONCE: 'false' },
  { mode: 'exactly-once', EXACTLY_ONCE: 'true' },
])('durable dedup across instances ($mode)', ({ EXACTLY_ONCE }) => {
  let h: Harness;
  let second: FulfillmentHandle | undefined;
  let third: FulfillmentHandle | undefined;

  beforeAll(async () => {
    h = await startHarness({ EXACTLY_ONCE, FULFILLMENT_COMMIT_INTERVAL_MS: '50' });
  });
  afterAll(async () => {
    await second?.stop();
    await third?.stop();
    await h?.stop();
  });

  it('answers a copy reaching another instance after a restart as a duplicate, a redriven one again, and a replay once more', { timeout: 120_000 }, async () => {
    // One session, so the copies and the marker callback after them are taken in order.
    const sessionId = `dedup-${EXACTLY_ONCE}`;
    const callbacks = [
      makeCallback({ sessionId, intent: 'order_status', confidence: 0.95 }),
      makeCallback({ sessionId, intent: 'order_status', confidence: 0.3 }),
      makeCallback({ sessionId, intent: 'order_status', confidence: 0.91 }),
    ];
    const ids = callbacks.map((c) => c.eventId);
    await h.send(callbacks);
    await h.waitForResults(ids);
    await h.service!.stop();

    // A new instance of the group: its memory is empty, the changelog is not.
    second = await startFulfillment(h.config, { logger: createLogger('fulfillment', h.config.LOG_LEVEL) });
    await waitFor(async () => (await fetch(`${second!.url}/readyz`)).ok, { timeoutMs: 60_000, what: 'the second instance to join' });
    const after = makeCallback({ sessionId, intent: 'order_status', confidence: 0.93 });
    await h.send([...callbacks, after]);
    await h.waitForResults([after.eventId]);

    for (const id of ids) {
      expect(await h.results(id), id).toHaveLength(1);
      expect(h.simulator.downstream.callsFor(id).length, id).toBeLessThanOrEqual(1);
    }
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).toMatch(/^fulfillment_records_total\{outcome="duplicate",service="fulfillment"\} 3$/m);

    // An operator's redrive is a deliberate new cycle: answered again, and marked so the aggregator acknowledges it again.
    const [first] = callbacks;
    await h.sendRaw(h.topics.callbacks, {
      key: sessionId,
      value: await h.encode(first!),
      headers: { [Header.eventId]: first!.eventId, [Header.correlationId]: first!.correlationId, [Header.redrivenFrom]: `${h.topics.dlq}:0:7` },
    });
    const redriven = await waitFor(async () => {
      const results = await h.results(first!.eventId);
      return results.length === 2 ? results[1] : undefined;
    }, { timeoutMs: 60_000, what: 'the redriven callback to be answered again' });
    expect(redriven.record.headers[REPLAY_HEADER]).toBe(`redrive:${h.topics.dlq}:0:7`);

    // An operator's replay from the earliest offsets: every callback is answered once more, marked with the replay's id.
    await second.stop();
    second = undefined;
    const admin = createKafka({ brokers: h.config.KAFKA_BROKERS, clientId: 'replay-test' });
    const ops = admin.admin();
    await ops.connect();
    let replayed;
    try {
      const dedup = { kind: 'reset' as const, changelog: h.topics.fulfillmentDedup, kafka: admin };
      const lines: string[] = [];
      const out = { write: (text: string) => void lines.push(text) };
      replayed = await replay(ops, { group: h.config.FULFILLMENT_GROUP_ID, topic: h.topics.callbacks, target: { kind: 'earliest' }, execute: true, dedup }, out);
      expect(lines.join('')).toMatch(/dedup: replayed callbacks are answered again/);
    } finally {
      await ops.disconnect();
    }
    expect(replayed.outcome).toBe('applied');
    third = await startFulfillment(h.config, { logger: createLogger('fulfillment', h.config.LOG_LEVEL) });
    const everyId = [...ids, after.eventId];
    const replayResults = await waitFor(async () => {
      const marked = (await h.results()).filter((r) => r.record.headers[REPLAY_HEADER] === replayed.dedupReset?.replayId);
      return everyId.every((id) => marked.some((r) => r.result.eventId === id)) ? marked : undefined;
    }, { timeoutMs: 60_000, what: 'the replayed callbacks to be answered again' });
    // Once per event: the copies and the redrive on the log are repeats within the replay.
    expect(replayResults.map((r) => r.result.eventId).sort()).toEqual([...everyId].sort());
  });
});
