import { headersToStrings } from '../headers.js';
import type { KafkaMessage, Message } from '../kafka.js';

/**
 * A consumed record as plain data: what a stage decides on, what it dead-letters byte for byte.
 * Offsets are numbers: Kafka's are 64-bit, but a partition would need 2^53 records to outgrow one.
 */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** The record's Kafka timestamp (epoch ms). */
  timestamp: number;
}

/** A record a stage writes: the next retry tier, the DLQ, a results or batches topic. */
export interface OutRecord {
  topic: string;
  /** Set for records whose partition is chosen, not derived from the key (dedup changelogs). */
  partition?: number;
  key: string | Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export function toConsumedRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key,
    value: message.value,
    headers: headersToStrings(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/** Groups records for one producer `sendBatch`, keeping their order within each topic. */
export function byTopic(records: readonly OutRecord[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, partition, key, value, headers } of records) {
    const message: Message = partition === undefined ? { key, value, headers } : { partition, key, value, headers };
    const messages = topics.get(topic);
    if (messages) messages.push(message);
    else topics.set(topic, [message]);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}
