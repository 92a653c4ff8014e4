import {
  CircuitState,
  ConsecutiveBreaker,
  TimeoutStrategy,
  circuitBreaker,
  handleAll,
  timeout,
  wrap,
} from 'cockatiel';
import type { CognigyCallback } from '../../shared/contracts.js';
import { RetriableError } from '../../shared/errors.js';
import { Header } from '../../shared/headers.js';
import type { Message, Producer } from '../../shared/kafka.js';
import type { TopicSerde } from '../../shared/serde.js';
import { Coalescer } from './coalescer.js';

export class BrokerUnavailable extends RetriableError {}

export interface PublisherSettings {
  lingerMs: number;
  maxBatch: number;
  produceTimeoutMs: number;
  /** After a failed send, how long new requests are refused at once before one is tried again. */
  halfOpenAfterMs: number;
  onBatch?: (size: number) => void;
  onSent?: (seconds: number) => void;
  /** A producer replaced after a failed send. */
  onRetired?: () => void;
}

/**
 * Writes callbacks to the callbacks topic, keyed by sessionId, acks from all in-sync replicas.
 * A send that fails or outlasts the timeout opens a breaker, so while the broker is down requests
 * are refused in microseconds instead of each waiting out the timeout.
 *
 * A failed send also retires its producer. The broker may have appended the batch whose answer was
 * lost; kafkajs then hands the same sequence numbers to the next batch, and the broker, taking it
 * for a repeat of the first, answers success without writing it: a callback answered 202 and never
 * stored. A fresh producer has a producer id of its own, so nothing it sends is taken for a repeat.
 */
export class CallbackPublisher {
  private readonly coalescer: Coalescer<Message>;
  private readonly breaker;
  private openedAt = 0;
  private producer: Producer;
  private readonly connections = new WeakMap<Producer, Promise<void>>();
  private stopped = false;

  constructor(
    private readonly newProducer: () => Producer,
    private readonly serde: TopicSerde<'CognigyCallback'>,
    private readonly topic: string,
    private readonly settings: PublisherSettings,
  ) {
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: settings.halfOpenAfterMs, breaker: new ConsecutiveBreaker(1) });
    const policy = wrap(this.breaker, timeout(settings.produceTimeoutMs, TimeoutStrategy.Aggressive));
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
    });
    this.producer = newProducer();
    this.coalescer = new Coalescer<Message>(
      async (messages) => {
        const started = performance.now();
        const producer = this.producer;
        try {
          await policy.execute(async () => {
            await this.connected(producer);
            await producer.send({ topic: this.topic, acks: -1, messages });
          });
          settings.onSent?.((performance.now() - started) / 1_000);
        } catch (error) {
          this.retire(producer);
          throw new BrokerUnavailable('the broker did not acknowledge the write', { cause: error });
        }
      },
      { lingerMs: settings.lingerMs, maxBatch: settings.maxBatch, onBatch: settings.onBatch },
    );
  }

  /** Connects the first producer: the service starts only once the broker answers. */
  async start(): Promise<void> {
    await this.connected(this.producer);
  }

  /** Disconnects the producer; call once no more records are published. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.producer.disconnect();
  }

  /** Resolves once the broker has acknowledged the record. */
  async publish(callback: CognigyCallback, traceparent?: string): Promise<void> {
    if (this.refusing()) throw new BrokerUnavailable('the broker is unavailable');
    const headers: Record<string, string> = {
      [Header.eventId]: callback.eventId,
      [Header.correlationId]: callback.correlationId,
      [Header.receivedAt]: callback.receivedAt,
    };
    if (traceparent) headers[Header.traceparent] = traceparent;
    const value = await this.serde.encode(callback);
    await this.coalescer.submit({ key: callback.sessionId, value, headers });
  }

  /** True while the breaker is open and not yet due for a trial send. */
  refusing(): boolean {
    return this.breaker.state === CircuitState.Open && Date.now() - this.openedAt < this.settings.halfOpenAfterMs;
  }

  get pending(): number {
    return this.coalescer.pending;
  }

  /** Connects a producer once; a failed attempt is forgotten, so the next send tries again. */
  private connected(producer: Producer): Promise<void> {
    let connection = this.connections.get(producer);
    if (connection === undefined) {
      connection = producer.connect();
      this.connections.set(producer, connection);
      connection.catch(() => this.connections.delete(producer));
    }
    return connection;
  }

  /** Replaces a producer after a failed send and disconnects it once it has stopped connecting. */
  private retire(producer: Producer): void {
    if (producer !== this.producer || this.stopped) return;
    this.producer = this.newProducer();
    this.settings.onRetired?.();
    void this.connected(this.producer).catch(() => undefined);
    const connection = this.connections.get(producer) ?? Promise.resolve();
    void connection
      .catch(() => undefined)
      .then(() => producer.disconnect())
      .catch(() => undefined);
  }
}
