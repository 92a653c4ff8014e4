import type { DedupStore } from '../../shared/stage/dedup-store.js';
import { createTransactionalProducer, type Admin, type KafkaClient, type Producer } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { DeadLetterNotifier } from '../../shared/stage/dead-letter-notifier.js';
import type { StageKit } from '../../shared/stage/stage.js';
import { OffsetCommitter, PartitionProgress, partitionKey, type TopicPartitionOffset } from '../../shared/stage/offsets.js';
import { byTopic, type OutRecord } from '../../shared/stage/records.js';
import type { FulfillmentMetrics } from './metrics.js';
import type { Completion } from './processor.js';

/**
 * A partition as the output tracks it: what was taken, what finished, what is committed. The
 * output owns it; intake only passes it back.
 */
export interface Lane {
  readonly topic: string;
  readonly partition: number;
  /** The first offset to process. */
  readonly start: number;
}

/**
 * Where finished records go: their output records (results, retry and DLQ records) and the input
 * offset commit. Two modes, chosen by EXACTLY_ONCE:
 * - AtLeastOnceOutput: outputs written at once by the idempotent producer, offsets committed
 *   afterwards, so a crash in between repeats outputs but never loses one.
 * - ExactlyOnceOutput: outputs and offsets of a partition's finished prefix in one Kafka
 *   transaction, with one transactional id per input partition.
 * A write that fails is reported to the failure listener (intake restarts the partition).
 * Dead letters are announced (DLQ_NOTIFY_URL) only once durable: after the producer's ack, or after
 * the commit of their transaction; an aborted transaction announces nothing, and its records are
 * written and announced again when the partition restarts.
 */
export interface Output {
  /** A partition newly taken, first fetched at `fetchedFrom`. */
  open(topic: string, partition: number, fetchedFrom: number): Promise<Lane>;
  /** A record was taken (in offset order). */
  accept(lane: Lane, offset: number): void;
  /**
   * A fetch was taken whole up to its last offset, which may be a transaction marker after the last
   * record (retry tiers written by exactly-once instances end in one): the commit may move past it.
   */
  acceptThrough(lane: Lane, lastOffset: number): void;
  /** A record finished with these outputs. */
  complete(lane: Lane, offset: number, completion: Completion): Promise<void>;
  /** Where the partition starts again after a failure: its last committed offset. */
  restartPoint(lane: Lane): number;
  /** The partition was revoked or restarts: forget it; its unfinished work is discarded. */
  release(lane: Lane): Promise<void>;
  /** Writes and commits everything finished (shutdown, before the consumer leaves). */
  flush(): Promise<void>;
  stop(): Promise<void>;
  onFailure(listener: (lane: Lane, error: unknown) => void): void;
}

/** The output of the chosen mode: a transactional id prefix means exactly-once. */
export async function openOutput(kit: StageKit, transactionalIdPrefix: string | undefined, deps: OutputDeps): Promise<Output> {
  if (transactionalIdPrefix !== undefined) return new ExactlyOnceOutput(kit.kafka, kit.admin, transactionalIdPrefix, deps);
  return new AtLeastOnceOutput(await kit.idempotentProducer(), deps);
}

export interface OutputDeps {
  commitOffsets: (offsets: TopicPartitionOffset[]) => Promise<void>;
  groupId: string;
  /** Event ids handled, durable in the dedup changelog: written after the outputs they belong to, or in their transaction. */
  dedup: Pick<DedupStore, 'hold' | 'confirm' | 'release' | 'restored'>;
  metrics: FulfillmentMetrics;
  logger: Logger;
  commitIntervalMs: number;
  deadLetters: DeadLetterNotifier;
}

class OutputLane implements Lane {
  released = false;
  constructor(readonly progress: PartitionProgress<Completion>) {}
  get topic(): string {
    return this.progress.topic;
  }
  get partition(): number {
    return this.progress.partition;
  }
  get start(): number {
    return this.progress.committed ?? 0;
  }
}

function own(lane: Lane): OutputLane {
  if (!(lane instanceof OutputLane)) throw new Error('lane not opened by this output');
  return lane;
}

abstract class BaseOutput {
  private failureListener: (lane: Lane, error: unknown) => void = () => undefined;

  onFailure(listener: (lane: Lane, error: unknown) => void): void {
    this.failureListener = listener;
  }

  accept(lane: Lane, offset: number): void {
    own(lane).progress.accept(offset);
  }

  restartPoint(lane: Lane): number {
    return own(lane).start;
  }

  acceptThrough(lane: Lane, lastOffset: number): void {
    const l = own(lane);
    if (l.released || l.progress.seen(lastOffset)) return;
    l.progress.acceptThrough(lastOffset);
    this.progressed(l);
  }

  /** The finished prefix may have grown without a record finishing: commit it. */
  protected abstract progressed(lane: OutputLane): void;

  protected fail(lane: OutputLane, error: unknown): void {
    if (!lane.released) this.failureListener(lane, error);
  }

  /**
   * The completion's event id is remembered from now on, before it is durable (the next record of
   * the session may be its repeat); the changelog record joins the outputs.
   */
  protected hold(dedup: OutputDeps['dedup'], lane: OutputLane, completion: Completion): Completion {
    const { handled } = completion;
    if (handled === undefined) return completion;
    const changelog = dedup.hold(handled.partition, handled.eventId, handled.attempt, lane);
    return { ...completion, outputs: [...completion.outputs, changelog] };
  }

  protected confirm(dedup: OutputDeps['dedup'], completions: Iterable<Completion>): void {
    const entries: { partition: number; key: string }[] = [];
    for (const { handled } of completions) if (handled) entries.push({ partition: handled.partition, key: handled.eventId });
    dedup.confirm(entries);
  }
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

export class AtLeastOnceOutput extends BaseOutput implements Output {
  private readonly writer: BatchWriter;
  private readonly committer: OffsetCommitter<Completion>;

  constructor(
    private readonly producer: Producer,
    private readonly deps: OutputDeps,
  ) {
    super();
    this.writer = new BatchWriter(producer);
    this.committer = new OffsetCommitter({
      commit: deps.commitOffsets,
      intervalMs: deps.commitIntervalMs,
      onCommit: (result) => deps.metrics.commits.inc({ kind: 'offsets', result }),
      logger: deps.logger,
    });
  }

  async open(topic: string, partition: number, fetchedFrom: number): Promise<Lane> {
    // What the partition's previous owner handled is known before its first record is looked at.
    await this.deps.dedup.restored();
    const progress = this.committer.open(topic, partition, fetchedFrom);
    return new OutputLane(progress);
  }

  async complete(lane: Lane, offset: number, completion: Completion): Promise<void> {
    const l = own(lane);
    if (l.released) return;
    const held = this.hold(this.deps.dedup, l, completion);
    try {
      // The outputs first, the dedup entry once they are durable. In one write, a broker that fails
      // mid-request can keep the entry and lose the result: the record, read again, would pass for a
      // repeat of a result nobody wrote. This way a failure costs at most a repeated result.
      await this.writer.write(completion.outputs);
      await this.writer.write(held.outputs.slice(completion.outputs.length));
    } catch (error) {
      this.fail(l, error);
      return;
    }
    this.confirm(this.deps.dedup, [held]);
    this.deps.deadLetters.notify(completion.outputs);
    if (l.released) return;
    l.progress.finish(offset);
    this.committer.commitSoon();
  }

  async release(lane: Lane): Promise<void> {
    const l = own(lane);
    l.released = true;
    this.deps.dedup.release(l);
    this.committer.release(l.progress);
  }

  protected progressed(): void {
    this.committer.commitSoon();
  }

  async flush(): Promise<void> {
    await this.committer.flush();
  }

  async stop(): Promise<void> {
    await this.producer.disconnect();
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
export class ExactlyOnceOutput extends BaseOutput implements Output {
  private readonly producers = new Map<string, Promise<Producer>>();
  private readonly lanes = new Map<OutputLane, FlushState>();

  constructor(
    private readonly kafka: KafkaClient,
    private readonly admin: Admin,
    private readonly transactionalIdPrefix: string,
    private readonly deps: OutputDeps,
  ) {
    super();
  }

  async open(topic: string, partition: number, fetchedFrom: number): Promise<Lane> {
    await this.producerFor(topic, partition);
    // A zombie may have committed between our group join and the fencing above: start after it.
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.deps.groupId, topics: [topic] });
    const committed = Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    // After the fencing, so the previous owner's open transaction no longer holds the changelog back.
    await this.deps.dedup.restored();
    const lane = new OutputLane(new PartitionProgress<Completion>(topic, partition, Math.max(committed, fetchedFrom)));
    this.lanes.set(lane, { again: false });
    return lane;
  }

  async complete(lane: Lane, offset: number, completion: Completion): Promise<void> {
    const l = own(lane);
    if (l.released) return;
    l.progress.finish(offset, this.hold(this.deps.dedup, l, completion));
    this.schedule(l);
  }

  async release(lane: Lane): Promise<void> {
    const l = own(lane);
    l.released = true;
    // Held event ids of transactions that will never commit are forgotten.
    this.deps.dedup.release(l);
    clearTimeout(this.lanes.get(l)?.timer);
    this.lanes.delete(l);
    // Whoever takes the partition next (this instance after a restart, or another) starts with a
    // fresh producer: re-initialising the id aborts whatever this one left open.
    const id = partitionKey(l.topic, l.partition);
    const producer = this.producers.get(id);
    this.producers.delete(id);
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
  }

  async flush(): Promise<void> {
    await Promise.all(
      [...this.lanes].map(async ([lane, state]) => {
        clearTimeout(state.timer);
        state.timer = undefined;
        await state.running;
        await this.transact(lane);
      }),
    );
  }

  async stop(): Promise<void> {
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.all(producers.map((p) => p.then((producer) => producer.disconnect()).catch(() => undefined)));
  }

  private producerFor(topic: string, partition: number): Promise<Producer> {
    const id = partitionKey(topic, partition);
    let producer = this.producers.get(id);
    if (!producer) {
      producer = (async () => {
        const p = createTransactionalProducer(this.kafka, `${this.transactionalIdPrefix}-${topic}-${partition}`);
        try {
          await p.connect();
          // Initialises the transactional id now, fencing any previous owner before we read offsets.
          const fence = await p.transaction();
          await fence.abort();
        } catch (error) {
          // A broker still starting fails the fencing: this producer is dropped (the next open makes a new one), not left connected.
          await p.disconnect().catch(() => undefined);
          throw error;
        }
        return p;
      })();
      this.producers.set(id, producer);
      producer.catch(() => this.producers.delete(id));
    }
    return producer;
  }

  protected progressed(lane: OutputLane): void {
    this.schedule(lane);
  }

  private schedule(lane: OutputLane): void {
    const state = this.lanes.get(lane);
    if (state === undefined) return;
    if (state.timer || state.running) {
      state.again = true;
      return;
    }
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.running = this.transact(lane).finally(() => {
        state.running = undefined;
        if (state.again) {
          state.again = false;
          this.schedule(lane);
        }
      });
    }, this.deps.commitIntervalMs);
  }

  /** One transaction: the outputs of the finished prefix and the offset after it. */
  private async transact(lane: OutputLane): Promise<void> {
    if (lane.released) return;
    const prefix = lane.progress.takeFinishedPrefix();
    if (!prefix) return;
    const records = prefix.payloads.flatMap((completion) => completion.outputs);
    try {
      const producer = await this.producerFor(lane.topic, lane.partition);
      const transaction = await producer.transaction();
      try {
        if (records.length > 0) await transaction.sendBatch({ topicMessages: byTopic(records), acks: -1 });
        await transaction.sendOffsets({
          consumerGroupId: this.deps.groupId,
          topics: [{ topic: lane.topic, partitions: [{ partition: lane.partition, offset: String(prefix.nextOffset) }] }],
        });
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      this.deps.metrics.commits.inc({ kind: 'transaction', result: 'failed' });
      this.fail(lane, error);
      return;
    }
    this.deps.metrics.commits.inc({ kind: 'transaction', result: 'ok' });
    this.confirm(this.deps.dedup, prefix.payloads);
    this.deps.deadLetters.notify(records);
    lane.progress.markCommitted(prefix.nextOffset);
  }
}
