import { describe, expect, it } from 'vitest';
import type { CognigyCallback } from '../../shared/contracts.js';
import type { Producer } from '../../shared/kafka.js';
import type { TopicSerde } from '../../shared/serde.js';
import { BrokerUnavailable, CallbackPublisher } from '../../services/ingress/publisher.js';

/** A producer that records what it was asked to do; `fail` decides each send's fate. */
function fakeProducer(id: number, fail: (id: number) => 'ok' | 'error' | 'hang') {
  const log = { id, connects: 0, sends: 0, disconnects: 0 };
  const producer = {
    connect: async () => void log.connects++,
    disconnect: async () => void log.disconnects++,
    send: async () => {
      log.sends++;
      const fate = fail(id);
      if (fate === 'error') throw new Error('Connection closed');
      if (fate === 'hang') await new Promise(() => undefined);
      return [];
    },
  };
  return { producer: producer as unknown as Producer, log };
}

const serde = { encode: async () => Buffer.from('x') } as unknown as TopicSerde<'CognigyCallback'>;

function callback(n: number): CognigyCallback {
  return { eventId: `e-${n}`, correlationId: `c-${n}`, receivedAt: new Date().toISOString(), sessionId: `s-${n}` } as CognigyCallback;
}

function publisherWith(fail: (id: number) => 'ok' | 'error' | 'hang') {
  const made: ReturnType<typeof fakeProducer>['log'][] = [];
  let retired = 0;
  const publisher = new CallbackPublisher(
    () => {
      const fake = fakeProducer(made.length, fail);
      made.push(fake.log);
      return fake.producer;
    },
    serde,
    'callbacks',
    { lingerMs: 0, maxBatch: 10, produceTimeoutMs: 200, halfOpenAfterMs: 0, onRetired: () => retired++ },
  );
  return { publisher, made, retired: () => retired };
}

describe('the ingress publisher', () => {
  it('keeps its producer while sends succeed', async () => {
    const { publisher, made } = publisherWith(() => 'ok');
    await publisher.start();
    for (let n = 0; n < 3; n++) await publisher.publish(callback(n));
    expect(made).toEqual([{ id: 0, connects: 1, sends: 3, disconnects: 0 }]);
  });

  it('sends nothing more with a producer whose send failed: the next record goes out with a new producer id', async () => {
    // The broker may hold the failed batch; a record sent later under the same producer id and
    // sequence would be taken for its repeat and dropped.
    const { publisher, made, retired } = publisherWith((id) => (id === 0 ? 'error' : 'ok'));
    await publisher.start();
    await expect(publisher.publish(callback(1))).rejects.toBeInstanceOf(BrokerUnavailable);
    await publisher.publish(callback(2));
    await publisher.publish(callback(3));
    expect(made[0]).toEqual({ id: 0, connects: 1, sends: 1, disconnects: 1 });
    expect(made[1]).toMatchObject({ id: 1, connects: 1, sends: 2, disconnects: 0 });
    expect(made).toHaveLength(2);
    expect(retired()).toBe(1);
  });

  it('replaces a producer whose send outlasted the produce timeout, as one that failed', async () => {
    const { publisher, made } = publisherWith((id) => (id === 0 ? 'hang' : 'ok'));
    await publisher.start();
    await expect(publisher.publish(callback(1))).rejects.toBeInstanceOf(BrokerUnavailable);
    await publisher.publish(callback(2));
    expect(made.map((p) => p.sends)).toEqual([1, 1]);
    expect(made[0]!.disconnects).toBe(1);
  });

  it('disconnects the producer it holds on stop and replaces none after', async () => {
    const { publisher, made } = publisherWith(() => 'ok');
    await publisher.start();
    await publisher.stop();
    expect(made).toEqual([{ id: 0, connects: 1, sends: 0, disconnects: 1 }]);
  });
});
