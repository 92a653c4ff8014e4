import { describe, expect, it } from 'vitest';
import { Intake } from '../../services/fulfillment/intake.js';
import { KeyOrderedExecutor } from '../../services/fulfillment/key-ordered-executor.js';
import { fulfillmentMetrics } from '../../services/fulfillment/metrics.js';
import type { Lane, Output } from '../../services/fulfillment/output.js';
import { PauseControl } from '../../services/fulfillment/pauses.js';
import type { RecordProcessor } from '../../services/fulfillment/processor.js';
import type { EachBatchPayload } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import { Registry } from '../../shared/metrics.js';

type TopicPartitions = { topic: string; partitions?: number[] }[];

/** kafkajs's consumer as intake sees it: out of its group (kafkajs restarting it), every call throws. */
function fakeConsumer() {
  let inGroup = true;
  const paused = new Set<string>();
  const seeks: { topic: string; partition: number; offset: string }[] = [];
  const group = () => {
    if (!inGroup) throw new Error('Consumer group was not initialized, consumer#run must be called first');
  };
  return {
    inGroup: () => inGroup,
    seek: (target: { topic: string; partition: number; offset: string }) => {
      group();
      seeks.push(target);
    },
    pause: (tps: TopicPartitions) => {
      group();
      for (const { topic, partitions } of tps) for (const p of partitions ?? []) paused.add(`${topic}:${p}`);
    },
    resume: (tps: TopicPartitions) => {
      group();
      for (const { topic } of tps) for (const key of [...paused]) if (key.startsWith(`${topic}:`)) paused.delete(key);
    },
    paused: (topic: string, partition: number) => paused.has(`${topic}:${partition}`),
    seeks,
    /** kafkajs dropped the group to restart the consumer; the new group remembers no pause. */
    restart: () => {
      inGroup = false;
      paused.clear();
    },
    join: () => {
      inGroup = true;
    },
  };
}

/** An output whose writes never finish; the test fails one by hand. */
function fakeOutput(committed: number) {
  let failed: (lane: Lane, error: unknown) => void = () => undefined;
  const lanes: Lane[] = [];
  const output: Output = {
    open: async (topic, partition) => {
      const lane = { topic, partition, start: committed };
      lanes.push(lane);
      return lane;
    },
    accept: () => undefined,
    acceptThrough: () => undefined,
    complete: async () => undefined,
    restartPoint: (lane) => lane.start,
    release: async () => undefined,
    flush: async () => undefined,
    stop: async () => undefined,
    onFailure: (listener) => {
      failed = listener;
    },
  };
  return { output, lanes, fail: (error: unknown) => failed(lanes[0] as Lane, error) };
}

function setUp() {
  const consumer = fakeConsumer();
  const out = fakeOutput(40);
  const pauses = new PauseControl(consumer, ['callbacks']);
  const processor = { process: () => new Promise(() => undefined) } as unknown as RecordProcessor;
  const intake = new Intake({
    consumer,
    tierOf: () => 0,
    executor: new KeyOrderedExecutor(10),
    processor,
    output: out.output,
    pauses,
    metrics: fulfillmentMetrics(new Registry()),
    logger: createLogger('test', 'silent'),
    maxBuffered: 100,
    ordering: 'key',
    restartBackoffMs: 60_000,
  });
  return { consumer, out, pauses, intake };
}

function batchAt(offset: number): EachBatchPayload {
  const message = { offset: String(offset), key: Buffer.from('s1'), value: Buffer.from('{}'), headers: {}, timestamp: '0', attributes: 0 };
  return {
    batch: { topic: 'callbacks', partition: 0, messages: [message], lastOffset: () => message.offset },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
}

describe('intake restarting a partition after a failed write', () => {
  it('seeks the partition back to its committed offset and holds it for the backoff', async () => {
    const { consumer, out, pauses, intake } = setUp();
    await intake.eachBatch(batchAt(42));
    out.fail(new Error('transaction failed'));
    expect(consumer.seeks).toEqual([{ topic: 'callbacks', partition: 0, offset: '40' }]);
    expect(consumer.paused('callbacks', 0)).toBe(true);
    pauses.stop();
  });

  it('neither seeks nor pauses while kafkajs restarts the consumer (both would throw), and holds the partition once it rejoins', async () => {
    const { consumer, out, pauses, intake } = setUp();
    await intake.eachBatch(batchAt(42));
    consumer.restart();
    expect(() => out.fail(new Error('Connection error: connect ECONNREFUSED'))).not.toThrow();
    expect(consumer.seeks).toEqual([]);
    expect(pauses.isHeld('callbacks', 0)).toBe(true);

    consumer.join();
    intake.onAssignment({ callbacks: [0] });
    expect(consumer.paused('callbacks', 0)).toBe(true);
    pauses.stop();
  });
});
