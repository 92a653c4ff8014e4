import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { AckBatch } from '../../shared/contracts.js';
import type { Producer } from '../../shared/kafka.js';
import type { TopicSerde } from '../../shared/serde.js';
import type { DeadLetterNotifier } from '../../shared/stage/dead-letter-notifier.js';
import { byTopic, type OutRecord } from '../../shared/stage/records.js';
import { ACK_GROUP_HEADER } from './plan-reader.js';

/** Runs a step the pipeline cannot skip, again and again, until it succeeds or the pipeline stops. */
export type UntilDone = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * A broker or registry that is down comes back; giving up on a plan, an outcome or a DLQ write
 * would lose the record it is about, so only stopping (`signal`) ends the retries.
 */
export function untilDone(signal: AbortSignal): UntilDone {
  const policy = retry(handleAll, {
    maxAttempts: Number.POSITIVE_INFINITY,
    backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5_000 }),
  }).dangerouslyUnref();
  return (work) => policy.execute(() => work(), signal);
}

/**
 * Kafka writes the pipeline cannot do without (plans, outcomes, DLQ): retried until they succeed.
 * Dead letters are announced (DLQ_NOTIFY_URL) once the broker acknowledged them, never before.
 */
export class DurableWriter {
  constructor(
    private readonly producer: Producer,
    private readonly batchSerde: TopicSerde<'AckBatch'>,
    private readonly batches: { topic: string; groupId: string },
    private readonly retrying: UntilDone,
    private readonly deadLetters: DeadLetterNotifier,
  ) {}

  async send(records: OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.retrying(() => this.producer.sendBatch({ topicMessages: byTopic(records), acks: -1 }));
    this.deadLetters.notify(records);
  }

  /** A plan or an outcome on the batches topic, tagged with the group so another group's read-back skips it. */
  async writeBatchRecord(record: AckBatch): Promise<void> {
    const value = await this.batchSerde.encode(record);
    await this.send([{ topic: this.batches.topic, key: Buffer.from(record.batchId), value, headers: { [ACK_GROUP_HEADER]: this.batches.groupId } }]);
  }
}
