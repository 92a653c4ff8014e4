import { createTransactionalProducer, type Admin, type Consumer, type KafkaClient, type Message, type Producer } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { DedupWindow } from '../../shared/dedup-window.js';
import type { FulfillmentMetrics } from './metrics.js';
import type { PartitionWork } from './partition-work.js';
import type { Completion } from './processor.js';
import type { OutRecord } from './records.js';

/**
 * Where finished records go: their output records (results, retry and DLQ records) and the
 * input offset commit. Two modes, chosen by EXACTLY_ONCE:
 * - AtLeastOnceOutput: outputs written at once by the idempotent producer, offsets committed
 *   afterwards, so a crash in between repeats outputs but never loses one.
 * - ExactlyOnceOutput: outputs and offsets of a partition's finished prefix in one Kafka
 *   transaction, with one transactional id per input partition.
 */
export interface Output {
  /** A partition newly taken, first fetched at `fetchedFrom`: returns the first offset to process. */
  open(topic: string, partition: number, fetchedFrom: string): Promise<string>;
  /** A record finished. Throws if its outputs could not be written (the caller restarts the partition). */
  complete(work: PartitionWork, offset: string, completion: Completion): Promise<void>;
  /** The partition was revoked or restarted: forget it. */
  release(work: PartitionWork): Promise<void>;
  /** Writes and commits everything finished (shutdown, before the consumer leaves). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface OutputDeps {
  consumer: Consumer;
  groupId: string;
  works: () => Iterable<PartitionWork>;
  recent: DedupWindow<true>;
  metrics: FulfillmentMetrics;
  logger: Logger;
  commitIntervalMs: number;
}

export function toMessage(record: OutRecord): Message {
  return { key: record.key, value: record.value, headers: record.headers };
}

export function byTopic(records: OutRecord[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (const record of records) {
    const messages = topics.get(record.topic);
    if (messages) messages.push(toMessage(record));
    else topics.set(record.topic, [toMessage(record)]);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Writes through the idempotent producer, one batch in flight: records that arrive meanwhile ride
 * on the next batch, so batches grow with load and each record still waits for its own ack.
 */
class BatchWriter {
  private queue: { records: OutRecord[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private sending = false;

  constructor(private readonly producer: Producer) {}

  write(records: OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      this.send();
    });
  }

  private send(): void {
    if (this.sending || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.sending = true;
    this.producer
      .sendBatch({ topicMessages: byTopic(batch.flatMap((entry) => entry.records)), acks: -1 })
      .then(
        () => batch.forEach((entry) => entry.resolve()),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      )
      .finally(() => {
        this.sending = false;
        this.send();
      });
  }
}

export class AtLeastOnceOutput implements Output {
  private readonly writer: BatchWriter;
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly deps: OutputDeps,
  ) {
    this.writer = new BatchWriter(producer);
  }

  async open(_topic: string, _partition: number, fetchedFrom: string): Promise<string> {
    return fetchedFrom;
  }

  async complete(work: PartitionWork, offset: string, completion: Completion): Promise<void> {
    if (work.dropped) return;
    await this.writer.write(completion.outputs);
    if (work.dropped) return;
    work.progress.finish(offset);
    if (completion.acknowledgedEventId) this.deps.recent.set(completion.acknowledgedEventId, true);
    this.scheduleCommit();
  }

  async release(): Promise<void> {}

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.commit();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.producer.disconnect();
  }

  private scheduleCommit(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.commit();
    }, this.deps.commitIntervalMs);
  }

  /** Commits, per partition, the lowest offset not finished; one commit request at a time. */
  private async commit(): Promise<void> {
    while (this.committing) await this.committing;
    const work = [...this.deps.works()].filter((w) => !w.dropped);
    for (const w of work) {
      const prefix = w.progress.takeFinishedPrefix();
      if (prefix) w.target = prefix.nextOffset;
    }
    const advancing = work.filter((w) => w.target !== w.committed).map((w) => ({ work: w, offset: w.target }));
    if (advancing.length === 0) return;
    this.committing = this.deps.consumer
      .commitOffsets(advancing.map((a) => ({ topic: a.work.topic, partition: a.work.partition, offset: a.offset })))
      .then(
        () => {
          for (const a of advancing) a.work.committed = a.offset;
          this.deps.metrics.commits.inc({ kind: 'offsets', result: 'ok' });
        },
        (error: unknown) => {
          // Commits are cumulative: the next one covers these offsets too.
          this.deps.logger.warn({ err: error }, 'offset commit failed, trying again');
          this.deps.metrics.commits.inc({ kind: 'offsets', result: 'failed' });
          this.scheduleCommit();
        },
      )
      .finally(() => {
        this.committing = undefined;
      });
    await this.committing;
  }
}

interface FlushState {
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  again: boolean;
}

/**
 * One transactional producer per input partition (transactional id `<prefix>-<topic>-<partition>`).
 * kafkajs sends offsets with TxnOffsetCommit v0/v1, without the consumer group generation of
 * KIP-447, so a partition's previous owner (a zombie that has not noticed the rebalance) can only
 * be fenced through the transactional id: whoever takes the partition re-initialises that id,
 * which aborts the zombie's open transaction and makes its next commit fail.
 */
export class ExactlyOnceOutput implements Output {
  private readonly producers = new Map<string, Promise<Producer>>();
  private readonly flushes = new WeakMap<PartitionWork, FlushState>();

  constructor(
    private readonly kafka: KafkaClient,
    private readonly admin: Admin,
    private readonly transactionalIdPrefix: string,
    private readonly deps: OutputDeps,
    private readonly onFailure: (work: PartitionWork, error: unknown) => void,
  ) {}

  async open(topic: string, partition: number, fetchedFrom: string): Promise<string> {
    await this.producerFor(topic, partition);
    // A zombie may have committed between our group join and the fencing above: start after it.
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.deps.groupId, topics: [topic] });
    const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset;
    return committed !== undefined && BigInt(committed) > BigInt(fetchedFrom) ? committed : fetchedFrom;
  }

  async complete(work: PartitionWork, offset: string, completion: Completion): Promise<void> {
    if (work.dropped) return;
    work.progress.finish(offset, completion);
    this.schedule(work);
  }

  async release(work: PartitionWork): Promise<void> {
    clearTimeout(this.flushes.get(work)?.timer);
    // Whoever takes the partition next (this instance after a restart, or another) starts with a
    // fresh producer: re-initialising the id aborts whatever this one left open.
    const id = `${work.topic}:${work.partition}`;
    const producer = this.producers.get(id);
    this.producers.delete(id);
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
  }

  async flush(): Promise<void> {
    await Promise.all(
      [...this.deps.works()].map(async (work) => {
        const state = this.flushes.get(work);
        clearTimeout(state?.timer);
        if (state) state.timer = undefined;
        await state?.running;
        await this.transact(work);
      }),
    );
  }

  async stop(): Promise<void> {
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(producers.map((p) => p.then((producer) => producer.disconnect()).catch(() => undefined)));
  }

  private producerFor(topic: string, partition: number): Promise<Producer> {
    const id = `${topic}:${partition}`;
    let producer = this.producers.get(id);
    if (!producer) {
      producer = (async () => {
        const p = createTransactionalProducer(this.kafka, `${this.transactionalIdPrefix}-${topic}-${partition}`);
        await p.connect();
        // Initialises the transactional id now, fencing any previous owner before we read offsets.
        const fence = await p.transaction();
        await fence.abort();
        return p;
      })();
      this.producers.set(id, producer);
      producer.catch(() => this.producers.delete(id));
    }
    return producer;
  }

  private schedule(work: PartitionWork): void {
    let state = this.flushes.get(work);
    if (!state) this.flushes.set(work, (state = { again: false }));
    if (state.timer || state.running) {
      state.again = true;
      return;
    }
    const s = state;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.running = this.transact(work).finally(() => {
        s.running = undefined;
        if (s.again) {
          s.again = false;
          this.schedule(work);
        }
      });
    }, this.deps.commitIntervalMs);
  }

  /** One transaction: the outputs of the finished prefix and the offset after it. */
  private async transact(work: PartitionWork): Promise<void> {
    if (work.dropped) return;
    const prefix = work.progress.takeFinishedPrefix();
    if (!prefix) return;
    const records = prefix.payloads.flatMap((completion) => completion.outputs);
    try {
      const producer = await this.producerFor(work.topic, work.partition);
      const transaction = await producer.transaction();
      try {
        if (records.length > 0) await transaction.sendBatch({ topicMessages: byTopic(records), acks: -1 });
        await transaction.sendOffsets({
          consumerGroupId: this.deps.groupId,
          topics: [{ topic: work.topic, partitions: [{ partition: work.partition, offset: prefix.nextOffset }] }],
        });
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      this.deps.metrics.commits.inc({ kind: 'transaction', result: 'failed' });
      this.onFailure(work, error);
      return;
    }
    this.deps.metrics.commits.inc({ kind: 'transaction', result: 'ok' });
    work.committed = prefix.nextOffset;
    work.target = prefix.nextOffset;
    for (const completion of prefix.payloads) {
      if (completion.acknowledgedEventId) this.deps.recent.set(completion.acknowledgedEventId, true);
    }
  }
}
