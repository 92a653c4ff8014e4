import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFulfillment, type FulfillmentHandle } from '../../services/fulfillment/service.js';
import { createIdempotentProducer } from '../../shared/kafka.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { topicNames } from '../../shared/topics.js';
import { runCli } from '../../tools/cli/commands.js';
import { captureOut, ExitCode } from '../../shared/operations/output.js';
import { replay } from '../../shared/operations/replay.js';
import { startTopicReader, type ReadRecord } from '../support/topic-reader.js';
import { waitFor } from '../support/wait.js';
import { caughtUp, committedOffsets, fulfillmentConfig, lowConfidenceCallback, opsFixture, type OpsFixture } from './support.js';

const MINUTE = 60_000;

describe('replay of the fulfillment group', () => {
  let fx: OpsFixture;
  let group: string;
  let callbacksTopic: string;
  let results: { records: ReadRecord[]; stop(): Promise<void> };
  let fulfillment: FulfillmentHandle | undefined;
  const now = Date.now();
  const before = Array.from({ length: 8 }, (_, i) => `old-${i}`);
  const after = Array.from({ length: 6 }, (_, i) => `new-${i}`);
  const resultIds = () => results.records.map((r) => r.headers['event-id'] as string);

  beforeAll(async () => {
    fx = await opsFixture('replay');
    group = `${fx.prefix}fulfillment`;
    const topics = topicNames(fx.prefix);
    callbacksTopic = topics.callbacks;
    const cli = await runCli(['topics', 'ensure'], { env: fx.env, out: fx.out, clients: fx });
    expect(cli).toBe(ExitCode.ok);

    // Records 20 and 2 minutes old: a replay to 10 minutes ago takes exactly the second set.
    const serde = new TopicSerde(createRegistry(fx.registryUrl), callbacksTopic, 'CognigyCallback');
    await serde.register();
    const producer = createIdempotentProducer(fx.kafka);
    await producer.connect();
    const messages = await Promise.all(
      [...before.map((id) => [id, now - 20 * MINUTE] as const), ...after.map((id) => [id, now - 2 * MINUTE] as const)].map(
        async ([eventId, timestamp], i) => ({
          key: `session-${i % 5}`,
          value: await serde.encode(lowConfidenceCallback(eventId, `session-${i % 5}`)),
          timestamp: String(timestamp),
          headers: { 'event-id': eventId, 'correlation-id': `corr-${eventId}` },
        }),
      ),
    );
    await producer.send({ topic: callbacksTopic, messages });
    await producer.disconnect();

    results = await startTopicReader(fx.brokers, [topics.results], { readCommitted: true });
    fulfillment = await startFulfillment(fulfillmentConfig(fx, group));
    await waitFor(() => resultIds().length >= 14 && caughtUp(fx.admin, group, callbacksTopic), {
      timeoutMs: 60_000,
      what: 'the first pass over all 14 callbacks',
    });
  }, 120_000);

  afterAll(async () => {
    await fulfillment?.stop();
    await results?.stop();
    await fx?.close();
  });

  it('is refused while the group runs, and changes nothing', async () => {
    const committed = await committedOffsets(fx.admin, group, callbacksTopic);
    const out = captureOut();
    const code = await runCli(['replay', '--group', group, '--topic', callbacksTopic, '--to-earliest', '--execute'], {
      env: fx.env,
      out,
      clients: fx,
    });
    expect(code).toBe(ExitCode.refused);
    expect(out.text()).toMatch(/refused: group .* has 1 active member/);
    expect(await committedOffsets(fx.admin, group, callbacksTopic)).toEqual(committed);
  });

  it('makes the group process again exactly the records written after the target time', async () => {
    await fulfillment?.stop();
    fulfillment = undefined;
    const target = { kind: 'datetime' as const, at: now - 10 * MINUTE, label: '10 minutes ago' };

    const dryRun = await replay(fx.admin, { group, topic: callbacksTopic, target, execute: false }, captureOut());
    expect(dryRun.outcome).toBe('planned');
    expect(dryRun.plan.totalReprocess).toBe(after.length);
    expect(await caughtUp(fx.admin, group, callbacksTopic)).toBe(true);

    const out = captureOut();
    // As the CLI does for fulfillment's inputs: the replayed callbacks' dedup state is reset.
    const dedup = { kind: 'reset' as const, changelog: topicNames(fx.prefix).fulfillmentDedup, kafka: fx.kafka };
    const applied = await replay(fx.admin, { group, topic: callbacksTopic, target, execute: true, dedup }, out);
    expect(applied.outcome).toBe('applied');
    expect(applied.exitCode).toBe(ExitCode.ok);
    expect(out.text()).toMatch(/6 record\(s\) to process again/);

    const firstPass = resultIds().length;
    fulfillment = await startFulfillment(fulfillmentConfig(fx, group));
    await waitFor(() => resultIds().length >= firstPass + after.length && caughtUp(fx.admin, group, callbacksTopic), {
      timeoutMs: 60_000,
      what: 'the replayed callbacks',
    });
    const again = resultIds().slice(firstPass);
    expect(again.sort()).toEqual([...after].sort());
    expect(results.records.slice(firstPass).map((r) => r.headers['replay-id'])).toEqual(after.map(() => applied.dedupReset?.replayId));
  }, 120_000);

  it('has nothing to do when the group already stands at the target', async () => {
    await fulfillment?.stop();
    fulfillment = undefined;
    const [partition, offset] = [...(await committedOffsets(fx.admin, group, callbacksTopic))][0] as [number, number];
    const code = await runCli(['replay', '--group', group, '--topic', callbacksTopic, '--to-offset', `${partition}:${offset}`, '--execute'], {
      env: fx.env,
      out: captureOut(),
      clients: fx,
    });
    expect(code).toBe(ExitCode.nothingToDo);
  }, 60_000);
});
