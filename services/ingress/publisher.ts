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
}

/**
 * Writes callbacks to the callbacks topic, keyed by sessionId, acks from all in-sync replicas.
 * A send that fails or outlasts the timeout opens a breaker, so while the broker is down requests
 * are refused in microseconds instead of each waiting out the timeout.
 */
export class CallbackPublisher {
  private readonly coalescer: Coalescer<Message>;
  private readonly breaker;
  private openedAt = 0;

  constructor(
    private readonly producer: Producer,
    private readonly serde: TopicSerde<'CognigyCallback'>,
    private readonly topic: string,
    private readonly settings: PublisherSettings,
  ) {
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: settings.halfOpenAfterMs, breaker: new ConsecutiveBreaker(1) });
    const policy = wrap(this.breaker, timeout(settings.produceTimeoutMs, TimeoutStrategy.Aggressive));
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
    });
    this.coalescer = new Coalescer<Message>(
      async (messages) => {
        const started = performance.now();
        try {
          await policy.execute(() => this.producer.send({ topic: this.topic, acks: -1, messages }));
          settings.onSent?.((performance.now() - started) / 1_000);
        } catch (error) {
          throw new BrokerUnavailable('the broker did not acknowledge the write', { cause: error });
        }
      },
      { lingerMs: settings.lingerMs, maxBatch: settings.maxBatch, onBatch: settings.onBatch },
    );
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
}
