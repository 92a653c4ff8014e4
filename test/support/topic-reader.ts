import { createKafka, type Consumer, type KafkaMessage, type KafkaSecurity } from '../../shared/kafka.js';
import { headersToStrings } from '../../shared/headers.js';
import { uniqueName } from './wait.js';

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  message: KafkaMessage;
}

/**
 * Reads topics from the beginning into memory with a throwaway consumer group, so a test can
 * assert on exactly what landed. `isolation` 'read_committed' hides aborted transactional writes.
 */
export async function startTopicReader(
  brokers: string,
  topics: string[],
  opts: { readCommitted?: boolean; security?: KafkaSecurity } = {},
): Promise<{ records: ReadRecord[]; stop(): Promise<void> }> {
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'test-reader', ...opts.security });
  const consumer: Consumer = kafka.consumer({
    groupId: uniqueName('test-reader'),
    readUncommitted: !opts.readCommitted,
    maxWaitTimeInMs: 100,
  });
  const records: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      records.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        value: message.value,
        headers: headersToStrings(message.headers),
        message,
      });
    },
  });
  return { records, stop: () => consumer.disconnect() };
}
