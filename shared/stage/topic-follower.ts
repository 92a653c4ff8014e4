import { randomUUID } from 'node:crypto';
import { errorMessage } from '../errors.js';
import type { Admin, Consumer, KafkaClient } from '../kafka.js';
import type { Logger } from '../logging.js';
import { toConsumedRecord, type ConsumedRecord } from './records.js';
import { COORDINATOR_WAIT_MS, crashAction, type StageKit } from './stage.js';

export interface TopicFollowerSettings {
  kafka: KafkaClient;
  admin: Admin;
  logger: Logger;
  topic: string;
  /** Prefix of the follower's own group, which never commits (the broker drops it once empty). */
  groupPrefix: string;
  /**
   * Where each partition starts; with it, a follower that joins its group again (a broker restart)
   * goes on where reading stopped. Without it every partition starts from its beginning, also after
   * such a rejoin, so `onRecords` must take a record it already had (as the dedup store does).
   */
  startAt?: () => Promise<ReadonlyMap<number, number>>;
  /** The records of one fetched batch of one partition, in log order; the next batch waits for it. */
  onRecords: (records: ConsumedRecord[]) => void | Promise<void>;
  /** kafkajs gave up on the consumer. */
  onFatal: (error: unknown) => void;
  membership?: StageKit['membership'];
}

/**
 * Reads a whole topic into the process and keeps reading, as a consumer of a group of its own that
 * never commits: what the dedup store restores its state from and the console's views are built
 * on. Committed transactional writes only. `caughtUp()` waits until everything written before the
 * call has been handed to `onRecords`.
 */
export class TopicFollower {
  /** Partition -> the next offset the follower will look at. */
  private readonly readTo = new Map<number, number>();
  private readonly consumer: Consumer;
  private error: unknown;
  private stopping = false;
  private startAgain: NodeJS.Timeout | undefined;
  /** Where each partition starts (startAt), asked once. */
  private starts: ReadonlyMap<number, number> = new Map();

  constructor(private readonly settings: TopicFollowerSettings) {
    this.consumer = settings.kafka.consumer({
      groupId: `${settings.groupPrefix}.${randomUUID()}`,
      ...(settings.membership ? { sessionTimeout: settings.membership.sessionTimeoutMs, heartbeatInterval: settings.membership.heartbeatIntervalMs } : {}),
      maxWaitTimeInMs: 250,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
  }

  async start(): Promise<void> {
    const { consumer, settings } = this;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => this.advance(payload.partition, Number(payload.lastOffset) + 1));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.stopping) return;
      const action = crashAction(payload.error, payload.restart);
      if (action === 'give up') {
        this.error = payload.error;
        settings.onFatal(payload.error);
        return;
      }
      settings.logger.warn({ err: errorMessage(payload.error), topic: settings.topic, action }, 'topic reader crashed; it starts again');
      // The stage's policy: a group coordinator not found yet is a broker starting.
      if (action === 'start again') {
        this.startAgain = setTimeout(() => void this.run().catch((error: unknown) => settings.onFatal(error)), COORDINATOR_WAIT_MS);
      }
    });
    // Each join, the first and every one after a restart, places the partitions that have a start
    // where reading stopped (or at that start): the group never commits, so without a seek a
    // restarted consumer would read its topic again from the beginning.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      for (const partition of payload.memberAssignment[settings.topic] ?? []) {
        const start = this.starts.get(partition);
        if (start === undefined) continue;
        const from = Math.max(start, this.readTo.get(partition) ?? 0);
        this.advance(partition, from);
        consumer.seek({ topic: settings.topic, partition, offset: String(from) });
      }
    });
    this.starts = (await settings.startAt?.()) ?? new Map();
    await consumer.connect();
    await consumer.subscribe({ topics: [settings.topic], fromBeginning: true });
    await this.run();
  }

  private async run(): Promise<void> {
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const records = batch.messages.map((message) => toConsumedRecord(this.settings.topic, batch.partition, message));
        if (records.length > 0) await this.settings.onRecords(records);
      },
    });
  }

  private advance(partition: number, next: number): void {
    if (next > (this.readTo.get(partition) ?? 0)) this.readTo.set(partition, next);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.startAgain);
    await this.consumer.disconnect();
  }

  /** Resolves once every partition was read up to its end offset as of this call. */
  async caughtUp(timeoutMs = 120_000): Promise<void> {
    const { settings } = this;
    const ends = await settings.admin.fetchTopicOffsets(settings.topic);
    const deadline = Date.now() + timeoutMs;
    const behind = () => ends.filter(({ partition, high }) => (this.readTo.get(partition) ?? 0) < Number(high));
    for (let wait = 10; behind().length > 0; wait = Math.min(wait * 2, 200)) {
      if (this.error !== undefined) throw this.error;
      if (Date.now() > deadline) {
        throw new Error(`${settings.topic} not read to its end within ${timeoutMs} ms (partitions ${behind().map((e) => e.partition).join(', ')})`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
