import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFulfillment, type FulfillmentHandle } from '../../services/fulfillment/service.js';
import { createIdempotentProducer, type Message } from '../../shared/kafka.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicNames, type TopicNames } from '../../shared/topics.js';
import { runCli } from '../../tools/cli/commands.js';
import { dlqList, dlqRedrive, dlqShow, type DlqContext } from '../../shared/operations/dlq.js';
import { parseDlqFilter, type DlqFilter } from '../../shared/operations/dlq-filter.js';
import { captureOut, ExitCode } from '../../shared/operations/output.js';
import { parseInstant } from '../../shared/operations/time-spec.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { waitFor } from '../support/wait.js';
import { fulfillmentConfig, highWatermarks, lowConfidenceCallback, opsFixture, type OpsFixture } from './support.js';

const MINUTE = 60_000;

interface Letter {
  eventId: string;
  partition: number;
  ageMs: number;
  reason: string;
  errorClass: string;
  originalTopic: (t: TopicNames) => string;
}

/** Dead letters as fulfillment and the ack aggregator write them (DESIGN "Topics and contracts"). */
const LETTERS: Letter[] = [
  { eventId: 'ex-1', partition: 0, ageMs: 120 * MINUTE, reason: 'retries-exhausted', errorClass: 'DownstreamUnavailable', originalTopic: (t) => t.retry(1) },
  { eventId: 'ex-2', partition: 1, ageMs: 110 * MINUTE, reason: 'retries-exhausted', errorClass: 'DownstreamTimeout', originalTopic: (t) => t.retry(1) },
  { eventId: 'ex-3', partition: 0, ageMs: 100 * MINUTE, reason: 'retries-exhausted', errorClass: 'DownstreamUnavailable', originalTopic: (t) => t.callbacks },
  { eventId: 'nr-1', partition: 1, ageMs: 20 * MINUTE, reason: 'non-retriable', errorClass: 'DownstreamRejected', originalTopic: (t) => t.callbacks },
  { eventId: 'nr-2', partition: 2, ageMs: 10 * MINUTE, reason: 'non-retriable', errorClass: 'DownstreamRejected', originalTopic: (t) => t.callbacks },
  { eventId: 'ack-1', partition: 2, ageMs: 5 * MINUTE, reason: 'invalid-ack-item', errorClass: 'InvalidAckItem', originalTopic: (t) => t.results },
];

describe('dead letters', () => {
  let fx: OpsFixture;
  let topics: TopicNames;
  let ctx: DlqContext;
  let values: Map<string, Buffer>;
  let retried: { records: ReadRecord[]; stop(): Promise<void> };
  const now = Date.now();
  const filter = (options: Parameters<typeof parseDlqFilter>[0]): DlqFilter => parseDlqFilter(options, (t) => parseInstant(t, now));
  const none = filter({});

  beforeAll(async () => {
    fx = await opsFixture('dlq');
    topics = topicNames(fx.prefix);
    ctx = { kafka: fx.kafka, admin: fx.admin, topics, out: captureOut(), redriveGroup: fx.env.DLQ_REDRIVE_GROUP_ID as string, registry: createRegistry(fx.registryUrl) };
    expect(await runCli(['topics', 'ensure'], { env: fx.env, out: fx.out, clients: fx })).toBe(ExitCode.ok);

    const serde = new TopicSerde(createRegistry(fx.registryUrl), topics.callbacks, 'CognigyCallback');
    await serde.register();
    values = new Map();
    const messages: (Message & { partition: number })[] = [];
    for (const letter of LETTERS) {
      const value = await serde.encode(lowConfidenceCallback(letter.eventId, `session-${letter.eventId}`));
      values.set(letter.eventId, value);
      messages.push({
        partition: letter.partition,
        key: `session-${letter.eventId}`,
        value,
        timestamp: String(now - letter.ageMs),
        headers: {
          'event-id': letter.eventId,
          'correlation-id': `corr-${letter.eventId}`,
          'original-topic': letter.originalTopic(topics),
          'original-partition': String(letter.partition),
          'original-offset': '17',
          'retry-attempt': '2',
          'first-failed-at': new Date(now - letter.ageMs - MINUTE).toISOString(),
          'error-class': letter.errorClass,
          'error-message': 'failed',
          'dlq-reason': letter.reason,
        },
      });
    }
    const producer = createIdempotentProducer(fx.kafka);
    await producer.connect();
    await producer.send({ topic: topics.dlq, messages });
    await producer.disconnect();
    retried = await startTopicReader(fx.brokers, [topics.retry(1)], { readCommitted: true });
  }, 60_000);

  afterAll(async () => {
    await retried?.stop();
    await fx?.close();
  });

  it('are listed newest first with reason, error class, origin and attempts', async () => {
    const listed = await dlqList(ctx, { filter: none, limit: 50 });
    expect(listed.matching).toBe(LETTERS.length);
    expect(listed.shown.map((v) => v.eventId)).toEqual([...LETTERS].sort((a, b) => a.ageMs - b.ageMs).map((l) => l.eventId));
    expect(listed.shown[0]).toMatchObject({ reason: 'invalid-ack-item', errorClass: 'InvalidAckItem', originalTopic: topics.results, attempts: '2' });
  }, 30_000);

  it('are filtered by reason, error class and time', async () => {
    const ids = async (f: DlqFilter) => (await dlqList(ctx, { filter: f, limit: 50 })).shown.map((v) => v.eventId).sort();
    expect(await ids(filter({ reason: ['retries-exhausted'] }))).toEqual(['ex-1', 'ex-2', 'ex-3']);
    expect(await ids(filter({ 'error-class': ['DownstreamRejected', 'DownstreamTimeout'] }))).toEqual(['ex-2', 'nr-1', 'nr-2']);
    expect(await ids(filter({ since: '30m' }))).toEqual(['ack-1', 'nr-1', 'nr-2']);
    expect(await ids(filter({ since: '115m', until: '15m' }))).toEqual(['ex-2', 'ex-3', 'nr-1']);
    expect((await dlqList(ctx, { filter: filter({ reason: ['nothing-like-this'] }), limit: 50 })).exitCode).toBe(ExitCode.nothingToDo);
  }, 60_000);

  it('are shown one at a time with their headers and decoded value', async () => {
    const out = captureOut();
    const code = await runCli(['dlq', 'show', '2:0'], { env: fx.env, out, clients: fx });
    expect(code).toBe(ExitCode.ok);
    expect(out.text()).toMatch(/dlq-reason\s+non-retriable/);
    expect(out.text()).toMatch(/"eventId": "nr-2"/);
    const missing = await dlqShow(ctx, { partition: 2, offset: 99 });
    expect(missing.exitCode).toBe(ExitCode.nothingToDo);
  }, 30_000);

  it('are redriven through the first retry tier once each, filtered or not, and processed again', async () => {
    const dryRun = await dlqRedrive(ctx, { filter: none, execute: false });
    expect(dryRun.outcome).toBe('planned');
    expect(dryRun.plan?.moves).toHaveLength(5);
    expect([...(await highWatermarks(fx.admin, topics.retry(1))).values()].every((h) => h === 0)).toBe(true);

    const first = await dlqRedrive(ctx, { filter: filter({ reason: ['non-retriable'] }), execute: true });
    expect(first).toMatchObject({ outcome: 'applied', moved: 2 });
    const rest = await dlqRedrive(ctx, { filter: none, execute: true });
    expect(rest).toMatchObject({ outcome: 'applied', moved: 3 });
    expect(rest.plan?.skipped['results-consumer']).toBe(1);

    const out = captureOut();
    expect(await runCli(['dlq', 'redrive', '--execute'], { env: fx.env, out, clients: fx })).toBe(ExitCode.nothingToDo);
    expect(out.text()).toMatch(/nothing to redrive/);

    await waitFor(() => retried.records.length >= 5, { timeoutMs: 20_000, what: 'redriven records on the first retry tier' });
    const byEvent = new Map(retried.records.map((r) => [r.headers['event-id'] ?? '', r]));
    expect([...byEvent.keys()].sort()).toEqual(['ex-1', 'ex-2', 'ex-3', 'nr-1', 'nr-2']);
    for (const [eventId, record] of byEvent) {
      const letter = LETTERS.find((l) => l.eventId === eventId) as Letter;
      expect(record.value?.equals(values.get(eventId) as Buffer), eventId).toBe(true);
      expect(record.key).toBe(`session-${eventId}`);
      expect(record.headers['redriven-from']).toMatch(new RegExp(`^${topics.dlq.replace(/\./g, '\\.')}:${letter.partition}:\\d+$`));
      expect(record.headers['original-topic']).toBe(topics.callbacks);
      expect(Number(record.headers['retry-due-at'])).toBeGreaterThanOrEqual(now);
    }

    let fulfillment: FulfillmentHandle | undefined;
    const results = await startTopicReader(fx.brokers, [topics.results], { readCommitted: true });
    try {
      fulfillment = await startFulfillment(fulfillmentConfig(fx, `${fx.prefix}fulfillment`));
      await waitFor(() => results.records.length >= 5, { timeoutMs: 60_000, what: 'results of the redriven callbacks' });
      const answered = results.records.map((r) => r.headers['event-id']).sort();
      expect(answered).toEqual(['ex-1', 'ex-2', 'ex-3', 'nr-1', 'nr-2']);
    } finally {
      await fulfillment?.stop();
      await results.stop();
    }
  }, 120_000);
});
