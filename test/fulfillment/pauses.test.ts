import { describe, expect, it, vi } from 'vitest';
import { PauseControl } from '../../services/fulfillment/pauses.js';

type TopicPartitions = { topic: string; partitions?: number[] }[];

/** The pause state kafkajs would end up in, replaying the calls it received. */
function fakeConsumer() {
  const all = new Set<string>();
  const some = new Map<string, Set<number>>();
  return {
    pause: (tps: TopicPartitions) => {
      for (const { topic, partitions } of tps) {
        if (!partitions) all.add(topic);
        else some.set(topic, new Set([...(some.get(topic) ?? []), ...partitions]));
      }
    },
    resume: (tps: TopicPartitions) => {
      for (const { topic, partitions } of tps) {
        if (!partitions) {
          all.delete(topic);
          some.delete(topic);
        } else for (const p of partitions) some.get(topic)?.delete(p);
      }
    },
    paused: (topic: string, partition: number) => all.has(topic) || (some.get(topic)?.has(partition) ?? false),
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
    pauses.retain(() => false);
    expect(pauses.isHeld('retry.1', 0)).toBe(false);
    pauses.stop();
  });
});
