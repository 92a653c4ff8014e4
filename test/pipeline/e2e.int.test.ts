import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../shared/logging.js';
import { startLocalPipeline, type LocalPipeline } from '../../tools/cli/local-pipeline.js';
import { postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName, waitFor } from '../support/wait.js';

const CALLBACKS = 2_000;
const SECRET = 'e2e-secret';
let pipeline: LocalPipeline;

beforeAll(async () => {
  const infra = testInfra();
  const name = uniqueName('e2e');
  pipeline = await startLocalPipeline({
    kafkaBrokers: infra.kafkaBrokers,
    schemaRegistryUrl: infra.schemaRegistryUrl,
    logger: createLogger('e2e', 'error'),
    env: {
      TOPIC_PREFIX: `${name}.`,
      FULFILLMENT_GROUP_ID: `${name}-fulfillment`,
      ACK_GROUP_ID: `${name}-acks`,
      COGNIGY_WEBHOOK_SECRETS: SECRET,
      INGRESS_PORT: '0',
      INGRESS_HOST: '127.0.0.1',
      FULFILLMENT_PORT: '0',
      ACK_AGGREGATOR_PORT: '0',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '1000',
      // 20 % of calls fail: three in a row happen, and must not stall the run for 30 s.
      BREAKER_HALF_OPEN_AFTER_MS: '200',
      ACK_WINDOW_MS: '1000',
      LOG_LEVEL: 'error',
    },
  });
  pipeline.simulator.downstream.setFaults({ errorRate: 0.2 });
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
});

/** A third each: confident (downstream), unsure (fallback), no confidence (downstream sync call). */
function callback(i: number): Record<string, unknown> {
  const sessionId = `e2e-session-${i % 200}`;
  if (i % 3 === 0) return { eventType: 'intent_fulfillment', sessionId, intent: 'book_flight', confidence: 0.94, seq: i };
  if (i % 3 === 1) return { eventType: 'intent_fulfillment', sessionId, intent: 'book_flight', confidence: 0.42, seq: i };
  return { eventType: 'flow_execution', sessionId, flowName: 'Main', seq: i };
}

it('acknowledges every accepted callback to Cognigy exactly once, with the status its route implies, while 20 % of downstream calls fail', async () => {
  const accepted = new Map<string, number>();
  let next = 0;
  const sender = async () => {
    while (next < CALLBACKS) {
      const i = next++;
      const answer = await postSigned(pipeline.ingress.url, callback(i), {}, SECRET);
      if (answer.status === 202) accepted.set(String(answer.json.eventId), i);
    }
  };
  await Promise.all(Array.from({ length: 32 }, sender));
  expect(accepted.size).toBe(CALLBACKS);

  const cognigy = pipeline.simulator.cognigy;
  await waitFor(() => [...accepted.keys()].every((id) => cognigy.acknowledged.has(id)), {
    timeoutMs: 240_000,
    intervalMs: 500,
    what: 'every accepted callback acknowledged',
  });

  const downstream = pipeline.simulator.downstream;
  const statuses = { ACKNOWLEDGED: 0, REJECTED: 0 };
  for (const [eventId, i] of accepted) {
    expect(cognigy.acknowledged.get(eventId), `acknowledgments of ${eventId}`).toBe(1);
    const ack = cognigy.ackStatuses.get(eventId);
    const calls = downstream.callsFor(eventId);
    if (i % 3 === 1) {
      // Below the threshold: a FALLBACK result, no downstream call.
      expect(calls).toHaveLength(0);
      expect(ack).toEqual({ status: 'ACKNOWLEDGED', errorDirective: null });
    } else if (calls.some((c) => c.answer === 200)) {
      expect(ack).toEqual({ status: 'ACKNOWLEDGED', errorDirective: null });
    } else {
      // Every attempt failed with a 500: retries exhausted.
      expect(ack).toEqual({ status: 'REJECTED', errorDirective: 'ENGINE_UNREACHABLE' });
    }
    statuses[ack?.status as keyof typeof statuses] += 1;
  }
  expect(statuses.ACKNOWLEDGED + statuses.REJECTED).toBe(CALLBACKS);
  // Transient failures were retried, not passed on: the retry topics carried real work.
  expect((await pipeline.summary()).retried).toBeGreaterThan(100);
}, 420_000);
