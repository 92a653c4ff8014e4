import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { FulfillmentResult } from '../../shared/contracts.js';
import { RetriableError, errorMessage } from '../../shared/errors.js';
import { headersToStrings } from '../../shared/headers.js';
import type { KafkaMessage } from '../../shared/kafka.js';
import type { TopicSerde } from '../../shared/serde.js';
import type { SourceRecord } from './dead-letter.js';
import type { UntilDone } from './durable-writes.js';

/** A delivered result, decoded, or the reason it cannot be (which dead-letters it). */
export type Decoded = { source: SourceRecord; result?: FulfillmentResult; invalid?: string };

class SchemaUnavailable extends RetriableError {}

/**
 * Turns delivered results into FulfillmentResults. A record that is not a result is invalid and
 * dead-lettered; a registry that cannot be reached says nothing about the record, so fetching
 * the writer schema is retried instead.
 */
export class ResultDecoder {
  constructor(
    private readonly registry: SchemaRegistry,
    private readonly serde: TopicSerde<'FulfillmentResult'>,
    private readonly retrying: UntilDone,
  ) {}

  /** One after the other: the first record fetches the writer schema, the rest find it cached. */
  async decodeAll(sources: SourceRecord[]): Promise<Decoded[]> {
    const decoded: Decoded[] = [];
    for (const source of sources) decoded.push(await this.decode(source));
    return decoded;
  }

  private async decode(source: SourceRecord): Promise<Decoded> {
    const value = source.value;
    if (value === null || value.length < 5 || value[0] !== 0) return { source, invalid: 'value is not Avro in the Confluent wire format' };
    const schemaId = value.readInt32BE(1);
    try {
      await this.retrying(async () => {
        try {
          await this.registry.getSchema(schemaId);
        } catch (error) {
          if ((error as { status?: number }).status === 404) return;
          throw new SchemaUnavailable(`schema ${schemaId} could not be fetched: ${errorMessage(error)}`, { cause: error });
        }
      });
      return { source, result: await this.serde.decode(value) };
    } catch (error) {
      if (error instanceof SchemaUnavailable) throw error;
      return { source, invalid: `undecodable FulfillmentResult: ${errorMessage(error)}` };
    }
  }
}

export function toSource(topic: string, partition: number, message: KafkaMessage): SourceRecord {
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
