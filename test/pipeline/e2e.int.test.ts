import { afterAll, beforeAll, expect, it } from 'vitest';
import { Header } from '../../shared/headers.js';
import { createKafka, type Admin } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import { fulfillmentInputs, topicNames, type TopicNames } from '../../shared/topics.js';
import { startLocalPipeline, type LocalPipeline } from '../../tools/cli/local-pipeline.js';
import { postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { committedToEnd } from '../support/offsets.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

const CALLBACKS = 2_000;
const SECRET = 'e2e-secret';
/** Downstream attempts per callback, the first call included (RETRY_MAX_ATTEMPTS). */
const ATTEMPTS = 4;
let pipeline: LocalPipeline;
let admin: Admin;
let topics: TopicNames;
let groups: { fulfillment: string; acks: string };
let callbacks: ReadRecord[];
let deadLetters: ReadRecord[];
const readers: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  const infra = testInfra();
  const name = uniqueName('e2e');
  topics = topicNames(`${name}.`);
  groups = { fulfillment: `${name}-fulfillment`, acks: `${name}-acks` };
  pipeline = await startLocalPipeline({
    kafkaBrokers: infra.kafkaBrokers,
    schemaRegistryUrl: infra.schemaRegistryUrl,
    logger: createLogger('e2e', 'error'),
    env: {
      TOPIC_PREFIX: `${name}.`,
      FULFILLMENT_GROUP_ID: groups.fulfillment,
      ACK_GROUP_ID: groups.acks,
      COGNIGY_WEBHOOK_SECRETS: SECRET,
      INGRESS_PORT: '0',
      INGRESS_HOST: '127.0.0.1',
      FULFILLMENT_PORT: '0',
      ACK_AGGREGATOR_PORT: '0',
      RETRY_MAX_ATTEMPTS: String(ATTEMPTS),
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '1000',
      // 20 % of calls fail: three in a row happen, and must not stall the run for 30 s.
      BREAKER_HALF_OPEN_AFTER_MS: '200',
      ACK_WINDOW_MS: '1000',
      SESSION_WRITER_GROUP_ID: `${name}-sessions`,
      SESSION_WRITER_PORT: '0',
      // The simulator has no rate limit; the budget is tested on its own (test/session-writer).
      SESSION_WRITER_MAX_PER_5MIN: '1000000',
      SESSION_VARIABLES_MAP: 'processed_intent=intent,processed_response=response,webhook_processed=true,last_event=eventId',
      LOG_LEVEL: 'error',
    },
  });
  pipeline.simulator.downstream.setFaults({ errorRate: 0.2 });
  for (const [topic, into] of [
    [topics.callbacks, (r: ReadRecord[]) => (callbacks = r)],
    [topics.dlq, (r: ReadRecord[]) => (deadLetters = r)],
  ] as const) {
    const reader = await startTopicReader(infra.kafkaBrokers, [topic], { readCommitted: true });
    readers.push(reader);
    into(reader.records);
  }
  admin = createKafka({ brokers: infra.kafkaBrokers.split(','), clientId: 'e2e-offsets' }).admin();
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  for (const reader of readers) await reader.stop();
  await admin?.disconnect();
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
  // A duplicate can still be on its way: a second result for a callback, or a batch sent again.
  // Fulfillment commits a record only after writing what it led to, so once it has committed all
  // its inputs no result is left to come; the aggregator commits a result only after Cognigy took
  // the batch holding it, so once it has committed them all nothing is left for it to send.
  await waitFor(() => committedToEnd(admin, groups.fulfillment, fulfillmentInputs(topics, ATTEMPTS)), {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: 'fulfillment to commit every callback and retry it read',
  });
  await waitFor(() => committedToEnd(admin, groups.acks, [topics.results]), {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: 'the aggregator to commit every result',
  });
  expect(cognigy.acknowledged.size, 'webhooks acknowledged').toBe(CALLBACKS);

  const downstream = pipeline.simulator.downstream;
  const statuses = { ACKNOWLEDGED: 0, REJECTED: 0 };
  for (const [eventId, i] of accepted) {
    expect(cognigy.acknowledged.get(eventId), `acknowledgments of ${eventId}`).toBe(1);
    const ack = cognigy.ackStatuses.get(eventId);
    const answers = downstream.callsFor(eventId).map((c) => c.answer);
    if (i % 3 === 1) {
      // Below the threshold: a FALLBACK result, no downstream call.
      expect(answers, `downstream answers for ${eventId}`).toEqual([]);
      expect(ack).toEqual({ status: 'ACKNOWLEDGED', errorDirective: null });
    } else if (ack?.status === 'ACKNOWLEDGED') {
      // Fulfilled: failed attempts retried until one was answered 200, and no call after it.
      expect(answers.length, `downstream calls for ${eventId}`).toBeLessThanOrEqual(ATTEMPTS);
      expect(answers, `downstream answers for ${eventId}`).toEqual([...answers.slice(0, -1).map(() => 500), 200]);
      expect(ack).toEqual({ status: 'ACKNOWLEDGED', errorDirective: null });
    } else {
      // Retries exhausted: every one of its attempts reached the downstream and was answered 500.
      expect(answers, `downstream answers for ${eventId}`).toEqual(Array<number>(ATTEMPTS).fill(500));
      expect(ack).toEqual({ status: 'REJECTED', errorDirective: 'ENGINE_UNREACHABLE' });
    }
    statuses[ack?.status as keyof typeof statuses] += 1;
  }
  expect(statuses.ACKNOWLEDGED + statuses.REJECTED).toBe(CALLBACKS);
  // Transient failures were retried, not passed on: the retry topics carried real work.
  expect((await pipeline.summary()).retried).toBeGreaterThan(100);
}, 420_000);

it("writes every session's newest callback into its session variables, never going back in its order, and announces every dead letter", async () => {
  // Runs after the acknowledgment test: every callback has its result by now. Three more are
  // refused downstream (422): dead-lettered at once, with a REJECTED result.
  const sim = pipeline.simulator;
  sim.downstream.setFaults({ errorRate: 0, script: [422, 422, 422] });
  for (let i = 0; i < 3; i += 1) {
    const refused = { eventType: 'intent_fulfillment', sessionId: `e2e-refused-${i}`, intent: 'book_flight', confidence: 0.94 };
    expect((await postSigned(pipeline.ingress.url, refused, {}, SECRET)).status).toBe(202);
  }
  await waitFor(() => callbacks.length >= CALLBACKS + 3, { timeoutMs: 30_000, what: 'every callback read back' });
  // A session's order is its callbacks' offsets on the callbacks topic (one partition per session).
  const placeOf = new Map(callbacks.map((r) => [r.headers[Header.eventId]!, Number(r.offset)]));
  const newest = new Map<string, { eventId: string; offset: number }>();
  for (const r of callbacks) {
    const session = r.key!;
    const offset = Number(r.offset);
    if ((newest.get(session)?.offset ?? -1) < offset) newest.set(session, { eventId: r.headers[Header.eventId]!, offset });
  }
  expect(newest.size).toBe(203);
  await waitFor(() => [...newest].every(([session, { eventId }]) => sim.cognigy.sessionVariables.get(session)?.last_event === eventId), {
    timeoutMs: 120_000,
    intervalMs: 500,
    what: "every session's newest callback written",
  });
  const written = new Map<string, number[]>();
  for (const call of sim.cognigy.sessionCalls) {
    if (call.status !== 200 || !newest.has(call.sessionId)) continue;
    written.set(call.sessionId, [...(written.get(call.sessionId) ?? []), placeOf.get(String(call.variables?.last_event))!]);
  }
  for (const [session, offsets] of written) expect(offsets, session).toEqual([...offsets].sort((a, b) => a - b));

  // Each dead letter (the three refused, and any callback whose four attempts all failed) was announced once.
  await waitFor(() => deadLetters.length >= 3, { what: 'the refused callbacks dead-lettered' });
  await waitFor(() => sim.notifications.accepted().length >= deadLetters.length, { timeoutMs: 30_000, what: 'a notification per dead letter' });
  const announced = sim.notifications.accepted().map((n) => (n.body as { data: { eventId: string } }).data.eventId);
  expect(announced.sort()).toEqual(deadLetters.map((r) => r.headers[Header.eventId]!).sort());
}, 240_000);
