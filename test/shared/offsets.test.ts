import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { OffsetCommitter, PartitionProgress, type TopicPartitionOffset } from '../../shared/stage/offsets.js';
import { createLogger } from '../../shared/logging.js';
import { waitFor } from '../support/wait.js';

describe('partition progress', () => {
  it('commits nothing while the lowest accepted record is unfinished, however many after it finished', () => {
    const progress = new PartitionProgress<string>('t', 0);
    for (const offset of [10, 11, 12]) progress.accept(offset);
    progress.finish(11, 'b');
    progress.finish(12, 'c');
    expect(progress.takeFinishedPrefix()).toBeUndefined();
    expect(progress.commitDue()).toBeUndefined();
    expect(progress.outstanding).toBe(1);
  });

  it('commits past the finished prefix and hands out its payloads in offset order, once', () => {
    const progress = new PartitionProgress<string>('t', 0);
    for (const offset of [10, 11, 12, 13]) progress.accept(offset);
    progress.finish(12, 'c');
    progress.finish(10, 'a');
    progress.finish(11, 'b');
    expect(progress.takeFinishedPrefix()).toEqual({ payloads: ['a', 'b', 'c'], nextOffset: 13 });
    expect(progress.takeFinishedPrefix()).toBeUndefined();
    progress.finish(13, 'd');
    expect(progress.takeFinishedPrefix()).toEqual({ payloads: ['d'], nextOffset: 14 });
  });

  it('follows offsets across gaps and a fetch ending in a transaction marker', () => {
    const progress = new PartitionProgress('t', 1);
    for (const offset of [3, 5, 8]) progress.accept(offset);
    progress.acceptThrough(9);
    progress.finish(3);
    progress.finish(5);
    expect(progress.commitDue()).toBe(6);
    progress.finish(8);
    expect(progress.commitDue()).toBe(10);
  });

  it('does not report a commit again once it is done, nor one at the offset it was taken at', () => {
    const progress = new PartitionProgress('t', 0, 40);
    expect(progress.commitDue()).toBeUndefined();
    progress.accept(40);
    progress.finish(40);
    expect(progress.commitDue()).toBe(41);
    progress.markCommitted(41);
    expect(progress.commitDue()).toBeUndefined();
    expect(progress.committed).toBe(41);
  });

  it('knows which offsets it has seen, refuses one out of order, and ignores one it never accepted', () => {
    const progress = new PartitionProgress('t', 0);
    progress.accept(7);
    expect(progress.seen(6)).toBe(true);
    expect(progress.seen(7)).toBe(true);
    expect(progress.seen(8)).toBe(false);
    expect(() => progress.accept(7)).toThrow();
    expect(progress.finish(4)).toBe(false);
    expect(progress.outstanding).toBe(1);
  });

  it('says below which offset everything finished, from the first delivered offset on', () => {
    const progress = new PartitionProgress('t', 0);
    progress.accept(40);
    progress.accept(41);
    expect(progress.finishedBelow).toBe(40);
    progress.finish(40);
    expect(progress.finishedBelow).toBe(41);
  });

  it('keeps payloads across reads of the commit point', () => {
    const progress = new PartitionProgress<string>('t', 0);
    progress.accept(1);
    progress.finish(1, 'a');
    expect(progress.finishedBelow).toBe(2);
    expect(progress.takeFinishedPrefix()).toEqual({ payloads: ['a'], nextOffset: 2 });
  });
});

describe('offset committer', () => {
  const logger = createLogger('test', 'silent');

  it('commits each partition past its finished prefix, one request for many records', async () => {
    const calls: TopicPartitionOffset[][] = [];
    const committer = new OffsetCommitter({ commit: async (offsets) => void calls.push(offsets), intervalMs: 20, logger });
    const p0 = committer.open('t', 0, 0);
    const p1 = committer.open('t', 1, 5);
    for (const offset of [0, 1, 2]) p0.accept(offset);
    p1.accept(5);
    p0.finish(0);
    p0.finish(2);
    p1.finish(5);
    committer.commitSoon();
    committer.commitSoon();
    await waitFor(() => calls.length === 1, { timeoutMs: 2_000 });
    expect(calls[0]).toEqual([
      { topic: 't', partition: 0, offset: '1' },
      { topic: 't', partition: 1, offset: '6' },
    ]);
    expect(committer.outstanding).toBe(1);
  });

  it('tries a failed commit again, and forgets released partitions', async () => {
    let failures = 2;
    const committed: TopicPartitionOffset[][] = [];
    const committer = new OffsetCommitter({
      commit: async (offsets) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('rebalance in progress');
        }
        committed.push(offsets);
      },
      intervalMs: 0,
      retryMs: 20,
      logger,
    });
    const progress = committer.open('t', 0, 0);
    progress.accept(0);
    progress.finish(0);
    committer.commitSoon();
    await waitFor(() => committed.length === 1, { timeoutMs: 2_000 });
    expect(failures).toBe(0);
    expect(committed[0]).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
    committer.release(progress);
    expect([...committer.partitions()]).toEqual([]);
  });

  it('logs a run of failed commits once (an outage fails every retry), and their end', async () => {
    const lines: { level: number; msg: string; failures?: number }[] = [];
    const captured = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    let failures = 3;
    const committer = new OffsetCommitter({
      commit: async () => {
        if (failures === 0) return;
        failures -= 1;
        throw new Error('the consumer is not in its group');
      },
      intervalMs: 0,
      retryMs: 10,
      logger: captured,
    });
    const progress = committer.open('t', 0, 0);
    progress.accept(0);
    progress.finish(0);
    committer.commitSoon();
    await waitFor(() => lines.some((l) => l.msg === 'offset commits succeed again'), { timeoutMs: 2_000 });
    expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual(['offset commit failed; retrying']);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(2);
    expect(lines.at(-1)).toMatchObject({ level: 30, failures: 3 });
  });

  it('commits what finished at flush, and nothing after it', async () => {
    const calls: TopicPartitionOffset[][] = [];
    const committer = new OffsetCommitter({ commit: async (offsets) => void calls.push(offsets), intervalMs: 60_000, logger });
    const progress = committer.open('t', 0, 0);
    progress.accept(0);
    progress.finish(0);
    committer.commitSoon();
    await committer.flush();
    expect(calls).toEqual([[{ topic: 't', partition: 0, offset: '1' }]]);
    progress.accept(1);
    progress.finish(1);
    committer.commitSoon();
    expect(calls).toHaveLength(1);
  });
});
