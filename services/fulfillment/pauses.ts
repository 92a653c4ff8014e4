import type { StageConsumer } from '../../shared/stage/stage.js';

/**
 * Which partitions the consumer fetches from. Two reasons to hold a partition: the breaker is open
 * (all of them), or a partition waits until a time (a retry tier's head record is not due yet, or
 * a partition backs off after a failed write). The kafkajs pause state is recomputed from these
 * reasons on every change, so one reason ending never lifts another. The reasons are kept here, not
 * in kafkajs: a consumer that kafkajs restarts (a broker gone) takes no pause until it rejoins and
 * then remembers none, so they are applied again at every join.
 */
export class PauseControl {
  private blocked = false;
  private stopped = false;
  private readonly waits = new Map<string, { topic: string; partition: number; until: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly consumer: Pick<StageConsumer, 'pause' | 'resume' | 'inGroup'>,
    private readonly topics: string[],
  ) {}

  /** All partitions, while the downstream breaker is open. */
  setBlocked(blocked: boolean): void {
    if (this.blocked === blocked) return;
    this.blocked = blocked;
    this.apply();
  }

  /** Holds one partition until `until` (epoch ms); a later call for the same partition replaces it. */
  holdUntil(topic: string, partition: number, until: number): void {
    const key = `${topic}:${partition}`;
    clearTimeout(this.waits.get(key)?.timer);
    const timer = setTimeout(() => this.release(key), Math.min(Math.max(0, until - Date.now()), 2 ** 31 - 1));
    timer.unref();
    this.waits.set(key, { topic, partition, until, timer });
    this.apply();
  }

  isHeld(topic: string, partition: number): boolean {
    return this.stopped || this.blocked || this.waits.has(`${topic}:${partition}`);
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /**
   * The group was joined (GROUP_JOIN): forgets holds on partitions this instance no longer owns and
   * applies the rest again, for a consumer kafkajs restarted starts with nothing paused.
   */
  joined(assigned: (topic: string, partition: number) => boolean): void {
    for (const [key, wait] of this.waits) {
      if (assigned(wait.topic, wait.partition)) continue;
      clearTimeout(wait.timer);
      this.waits.delete(key);
    }
    this.apply();
  }

  /** Stops all fetching for good (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const wait of this.waits.values()) clearTimeout(wait.timer);
    this.waits.clear();
    this.apply();
  }

  private release(key: string): void {
    this.waits.delete(key);
    this.apply();
  }

  private apply(): void {
    // Out of its group the consumer takes no pause (kafkajs throws); the next join applies the state.
    if (!this.consumer.inGroup()) return;
    const all = this.topics.map((topic) => ({ topic }));
    if (this.stopped || this.blocked) {
      this.consumer.pause(all);
      return;
    }
    this.consumer.resume(all);
    const held = new Map<string, number[]>();
    for (const wait of this.waits.values()) held.set(wait.topic, [...(held.get(wait.topic) ?? []), wait.partition]);
    if (held.size > 0) this.consumer.pause([...held].map(([topic, partitions]) => ({ topic, partitions })));
  }
}
