import type { CognigyCallback } from '../../shared/contracts.js';
import { errorMessage } from '../../shared/errors.js';
import type { TopicSerde } from '../../shared/serde.js';
import { RegistryUnavailable, UndecodableRecord } from './errors.js';

/**
 * Decodes a callbacks-topic value, telling bytes that will never decode (UndecodableRecord: DLQ
 * at once) from a registry that cannot be asked right now (RegistryUnavailable: retried).
 */
export function callbackDecoder(serde: TopicSerde<'CognigyCallback'>): (value: Buffer | null) => Promise<CognigyCallback> {
  return async (value) => {
    // Confluent wire format: magic byte 0, a 4-byte schema id, then the Avro body.
    if (!value || value.length < 6 || value[0] !== 0) throw new UndecodableRecord('value is not in the Confluent Avro wire format');
    let decoded: CognigyCallback;
    try {
      decoded = await serde.decode(value);
    } catch (error) {
      if (isRegistryOutage(error)) throw new RegistryUnavailable(`schema registry: ${errorMessage(error)}`, { cause: error });
      throw new UndecodableRecord(`value does not decode: ${errorMessage(error)}`, { cause: error });
    }
    for (const field of ['eventId', 'correlationId', 'sessionId', 'receivedAt'] as const) {
      if (typeof decoded[field] !== 'string' || decoded[field] === '') {
        throw new UndecodableRecord(`decoded value has no ${field}: not a CognigyCallback`);
      }
    }
    return decoded;
  };
}

/** An HTTP answer from the registry other than 404 (an unknown schema id, which will stay unknown). */
function isRegistryOutage(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'ResponseError') return false;
  const status = (error as Error & { status?: unknown }).status;
  return status !== 404;
}
