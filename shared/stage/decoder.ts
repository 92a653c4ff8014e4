import { errorMessage, NonRetriableError, RetriableError } from '../errors.js';
import type { SchemaName, SchemaTypes, TopicSerde } from '../serde.js';

/** The value is not a record of the expected schema in the Confluent wire format; it never will be. */
export class UndecodableRecord extends NonRetriableError {}

/** The schema registry could not be asked for the writer's schema; decoding may work later. */
export class RegistryUnavailable extends RetriableError {}

/** Confluent wire format: magic byte 0 and a 4-byte schema id ahead of the Avro body. */
const WIRE_HEADER_BYTES = 5;

/**
 * Decodes the values of one topic, telling bytes that will never decode (UndecodableRecord: the
 * record is dead-lettered) from a registry that cannot be asked right now (RegistryUnavailable:
 * the record is tried again). `check` names what a decoded value lacks, if anything.
 */
export class RecordDecoder<N extends SchemaName> {
  constructor(
    private readonly serde: TopicSerde<N>,
    private readonly check: (value: SchemaTypes[N]) => string | undefined = () => undefined,
  ) {}

  async decode(value: Buffer | null): Promise<SchemaTypes[N]> {
    if (value === null || value.length <= WIRE_HEADER_BYTES || value[0] !== 0) {
      throw new UndecodableRecord(`value is not ${this.serde.schemaName} Avro in the Confluent wire format`);
    }
    const schemaId = value.readInt32BE(1);
    let known: boolean;
    try {
      known = await this.serde.hasWriterSchema(schemaId);
    } catch (error) {
      throw new RegistryUnavailable(`schema ${schemaId} could not be fetched: ${errorMessage(error)}`, { cause: error });
    }
    if (!known) throw new UndecodableRecord(`schema ${schemaId} is unknown to the registry`);
    let decoded: SchemaTypes[N];
    try {
      decoded = await this.serde.decode(value);
    } catch (error) {
      throw new UndecodableRecord(`value does not decode as ${this.serde.schemaName}: ${errorMessage(error)}`, { cause: error });
    }
    const lacking = this.check(decoded);
    if (lacking !== undefined) throw new UndecodableRecord(`decoded value is not a ${this.serde.schemaName}: ${lacking}`);
    return decoded;
  }
}
