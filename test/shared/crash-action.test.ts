import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { crashAction } from '../../shared/stage/stage.js';

const { KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSConnectionError } = kafkajs;
// Typed without arguments, though kafkajs itself constructs it with its message.
const KafkaJSGroupCoordinatorNotFound = kafkajs.KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error;

describe('what a consumer crash leads to', () => {
  it('leaves a crash kafkajs restarts from (a broker gone) to kafkajs', () => {
    const gone = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), { retryCount: 5, retryTime: 1_000 });
    expect(crashAction(gone, true)).toBe('kafkajs restarts');
  });

  it('starts a consumer again that found no group coordinator, which kafkajs counts as final', () => {
    expect(crashAction(new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator'), false)).toBe('start again');
  });

  it('gives up on any other crash kafkajs does not restart from', () => {
    expect(crashAction(new KafkaJSNonRetriableError('a record this stage cannot pass'), false)).toBe('give up');
    expect(crashAction(new Error('eachBatch threw'), false)).toBe('give up');
  });
});
