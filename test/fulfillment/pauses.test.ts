import { describe, expect, it, vi } from 'vitest';
import { PauseControl } from '../../services/fulfillment/pauses.js';

type TopicPartitions = { topic: string; partitions?: number[] }[];

/**
 * The pause state kafkajs would end up in, replaying the calls it received. Like kafkajs, it throws
 * while out of its group, and a restart (after a crash kafkajs recovers from) forgets every pause.
 */
function fakeConsumer() {
  let all = new Set<string>();
  let some = new Map<string, Set<number>>();
  let inGroup = true;
  const group = () => {
    if (!inGroup) throw new Error('Consumer group was not initialized, consumer#run must be called first');
  };
  return {
    inGroup: () => inGroup,
    pause: (tps: TopicPartitions) => {
      group();
      for (const { topic, partitions } of tps) {
        if (!partitions) all.add(topic);
        else some.set(topic, new Set([...(some.get(topic) ?? []), ...partitions]));
      }
    },
    resume: (tps: TopicPartitions) => {
      group();
      for (const { topic, partitions } of tps) {
        if (!partitions) {
          all.delete(topic);
          some.delete(topic);
        } else for (const p of partitions) some.get(topic)?.delete(p);
      }
    },
    paused: (topic: string, partition: number) => all.has(topic) || (some.get(topic)?.has(partition) ?? false),
    /** kafkajs drops the consumer's group to restart it: pauses are gone, calls throw until it joins. */
    restart: () => {
      inGroup = false;
      all = new Set();
      some = new Map();
    },
    join: () => {
      inGroup = true;
    },
  };
}

describe('pause control', () => {
  it('holds a retry partition until its due time, then fetches it again', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const consumer = fakeConsumer();
      const pauses = new PauseControl(consumer, ['callbacks', 'retry.1']);
      pauses.holdUntil('retry.1', 2, 5_000);
      expect(consumer.paused('retry.1', 2)).toBe(true);
      expect(consumer.paused('retry.1', 1)).toBe(false);
      vi.advanceTimersByTime(4_999);
      expect(pauses.isHeld('retry.1', 2)).toBe(true);
      vi.advanceTimersByTime(1);
      expect(consumer.paused('retry.1', 2)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps every partition paused while the breaker is open, even when a due time passes', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const consumer = fakeConsumer();
      const pauses = new PauseControl(consumer, ['callbacks', 'retry.1']);
      pauses.holdUntil('retry.1', 0, 1_000);
      pauses.setBlocked(true);
      vi.advanceTimersByTime(2_000);
      expect(consumer.paused('retry.1', 0)).toBe(true);
      expect(consumer.paused('callbacks', 3)).toBe(true);
      pauses.setBlocked(false);
      expect(consumer.paused('retry.1', 0)).toBe(false);
      expect(consumer.paused('callbacks', 3)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a partition held for its due time after the breaker closes again', () => {
    const consumer = fakeConsumer();
    const pauses = new PauseControl(consumer, ['callbacks', 'retry.1']);
    pauses.holdUntil('retry.1', 0, Date.now() + 60_000);
    pauses.setBlocked(true);
    pauses.setBlocked(false);
    expect(consumer.paused('retry.1', 0)).toBe(true);
    pauses.stop();
    expect(consumer.paused('callbacks', 0)).toBe(true);
  });

  it('forgets holds of partitions no longer assigned', () => {
    const consumer = fakeConsumer();
    const pauses = new PauseControl(consumer, ['retry.1']);
    pauses.holdUntil('retry.1', 0, Date.now() + 60_000);
    pauses.joined(() => false);
    expect(pauses.isHeld('retry.1', 0)).toBe(false);
    pauses.stop();
  });

  it('keeps its holds while kafkajs restarts the consumer, and pauses them again when it rejoins', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const consumer = fakeConsumer();
      const pauses = new PauseControl(consumer, ['callbacks', 'retry.1']);
      pauses.holdUntil('retry.1', 0, 5_000);
      consumer.restart();
      // While out of its group: a new hold, the breaker opening and closing, a hold running out.
      pauses.holdUntil('retry.1', 1, 60_000);
      pauses.setBlocked(true);
      pauses.setBlocked(false);
      vi.advanceTimersByTime(5_000);
      expect(pauses.isHeld('retry.1', 0)).toBe(false);
      expect(pauses.isHeld('retry.1', 1)).toBe(true);

      consumer.join();
      pauses.joined(() => true);
      expect(consumer.paused('retry.1', 1)).toBe(true);
      expect(consumer.paused('retry.1', 0)).toBe(false);
      expect(consumer.paused('callbacks', 0)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the breaker pause across a restart of the consumer', () => {
    const consumer = fakeConsumer();
    const pauses = new PauseControl(consumer, ['callbacks']);
    pauses.setBlocked(true);
    consumer.restart();
    expect(consumer.paused('callbacks', 2)).toBe(false);
    consumer.join();
    pauses.joined(() => true);
    expect(consumer.paused('callbacks', 2)).toBe(true);
  });
});
