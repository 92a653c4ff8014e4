import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  timeout,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import { errorMessage, isRetriable } from '../../shared/errors.js';
import { DownstreamRejected, DownstreamTimeout, DownstreamUnavailable, ShuttingDown } from './errors.js';

export interface DownstreamSettings {
  url: string;
  timeoutMs: number;
  /** Consecutive retriable failures that open the breaker. */
  consecutiveFailures: number;
  /** How long the breaker stays open before one trial call is let through. */
  halfOpenAfterMs: number;
  /** Calls at once (FULFILLMENT_MAX_IN_FLIGHT); more wait their turn. */
  maxInFlight: number;
}

export interface DownstreamRequest {
  eventId: string;
  correlationId: string;
  sessionId: string;
  intent: string | null;
  entities: unknown;
  traceparent?: string;
}

export interface DownstreamReply {
  status: number;
  latencyMs: number;
  /** The 2xx answer as JSON text (a non-JSON answer as a JSON string); null when empty or over RESPONSE_LIMIT_BYTES. */
  response: string | null;
}

/** Answers larger than this are not carried on the result (results stay small records). */
export const RESPONSE_LIMIT_BYTES = 4_096;

export type BreakerState = 'closed' | 'open' | 'half-open';
export type CallOutcome = 'ok' | 'timeout' | 'unavailable' | 'rejected';

/**
 * POST DOWNSTREAM_URL with `Idempotency-Key: <event-id>`, through cockatiel: a bulkhead
 * (FULFILLMENT_MAX_IN_FLIGHT calls at once) around a circuit breaker around a timeout. Retriable failures (timeouts, 5xx, 408, 429, network) count towards the breaker;
 * a 4xx answer does not, it is the request's fault, not the service's.
 *
 * While the breaker is open a call does not fail: it waits until a trial is possible and tries
 * then, so an outage costs no retry attempts. `onBlocked` tells the intake to pause meanwhile.
 */
export class DownstreamClient {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly timeout: TimeoutPolicy;
  private readonly bulkhead: BulkheadPolicy;
  private readonly url: URL;
  private readonly request: typeof httpRequest;
  private readonly agent: HttpAgent;
  private openedAt = 0;
  private trialTimer: NodeJS.Timeout | undefined;
  private blocked = false;
  private readonly blockedListeners: ((blocked: boolean) => void)[] = [];
  private readonly stateListeners: ((state: BreakerState) => void)[] = [];
  private observe: (outcome: CallOutcome, seconds: number) => void = () => {};

  constructor(private readonly settings: DownstreamSettings) {
    this.breaker = circuitBreaker(handleWhen(isRetriable), {
      halfOpenAfter: settings.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(settings.consecutiveFailures),
    });
    this.timeout = timeout(settings.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
    this.url = new URL(settings.url);
    const secure = this.url.protocol === 'https:';
    this.request = secure ? httpsRequest : httpRequest;
    this.agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.bulkhead = bulkhead(settings.maxInFlight, Number.MAX_SAFE_INTEGER);
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      clearTimeout(this.trialTimer);
      // Intake resumes when a trial call is possible, so there is a record to make it.
      this.trialTimer = setTimeout(() => this.emitBlocked(false), settings.halfOpenAfterMs);
      this.trialTimer.unref();
      this.emitBlocked(true);
    });
    this.breaker.onReset(() => {
      clearTimeout(this.trialTimer);
      this.emitBlocked(false);
    });
    this.breaker.onStateChange(() => {
      for (const listener of this.stateListeners) listener(this.state);
    });
  }

  get state(): BreakerState {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'open';
    }
  }

  /** When an open breaker lets a trial call through (epoch ms); undefined unless open. */
  get trialAt(): number | undefined {
    return this.state === 'open' ? this.openedAt + this.settings.halfOpenAfterMs : undefined;
  }

  /** `true` when the breaker opens, `false` when a trial is due or it closed again. */
  onBlocked(listener: (blocked: boolean) => void): void {
    this.blockedListeners.push(listener);
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.stateListeners.push(listener);
  }

  /** Every finished call: its outcome and duration. */
  onCall(listener: (outcome: CallOutcome, seconds: number) => void): void {
    this.observe = listener;
  }

  /**
   * One fulfillment call. Throws DownstreamTimeout, DownstreamUnavailable or DownstreamRejected;
   * waits (without failing) while the breaker is open; throws ShuttingDown if `signal` aborts that wait.
   */
  async fulfill(request: DownstreamRequest, signal: AbortSignal): Promise<DownstreamReply> {
    for (;;) {
      try {
        return await this.bulkhead.execute(() => this.breaker.execute(() => this.callOnce(request)));
      } catch (error) {
        if (!(error instanceof BrokenCircuitError)) throw error;
        await this.untilTrialPossible(signal);
      }
    }
  }

  close(): void {
    clearTimeout(this.trialTimer);
    this.agent.destroy();
  }

  private async callOnce(request: DownstreamRequest): Promise<DownstreamReply> {
    const started = performance.now();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': request.eventId,
      'x-correlation-id': request.correlationId,
    };
    if (request.traceparent) headers.traceparent = request.traceparent;
    const body = JSON.stringify({
      sessionId: request.sessionId,
      intent: request.intent,
      entities: request.entities,
      correlationId: request.correlationId,
    });
    let answer: { status: number; body: Buffer | null };
    try {
      answer = await this.timeout.execute(async ({ signal }) => {
        try {
          return await this.post(body, headers, signal);
        } catch (error) {
          // The aborted request may report its AbortError before the timeout policy reports itself.
          throw signal.aborted ? new TaskCancelledError() : error;
        }
      });
    } catch (error) {
      const seconds = (performance.now() - started) / 1_000;
      if (error instanceof TaskCancelledError) {
        this.observe('timeout', seconds);
        throw new DownstreamTimeout(`no answer from the downstream within ${this.settings.timeoutMs} ms`);
      }
      this.observe('unavailable', seconds);
      throw new DownstreamUnavailable(`downstream unreachable: ${errorMessage(error)}`, null, { cause: error });
    }
    const latencyMs = performance.now() - started;
    const status = answer.status;
    if (status >= 200 && status < 300) {
      this.observe('ok', latencyMs / 1_000);
      return { status, latencyMs, response: responseText(answer.body) };
    }
    if (status === 408 || status === 429 || status >= 500) {
      this.observe('unavailable', latencyMs / 1_000);
      throw new DownstreamUnavailable(`downstream answered ${status}`, status);
    }
    this.observe('rejected', latencyMs / 1_000);
    throw new DownstreamRejected(`downstream answered ${status}`, status);
  }

  /**
   * node:http with a keep-alive agent rather than fetch: at thousands of calls per second, fetch's
   * web streams cost several times the CPU of the call itself.
   */
  private post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ status: number; body: Buffer | null }> {
    return new Promise((resolve, reject) => {
      const request = this.request(
        this.url,
        { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: this.agent, signal },
        (response) => {
          // The answer is kept up to the limit (results carry it); past it, the rest is only drained.
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= RESPONSE_LIMIT_BYTES) chunks.push(chunk);
          });
          response.once('end', () => resolve({ status: response.statusCode ?? 0, body: size <= RESPONSE_LIMIT_BYTES ? Buffer.concat(chunks) : null }));
          response.once('error', reject);
        },
      );
      request.once('error', reject);
      request.end(body);
    });
  }

  private untilTrialPossible(signal: AbortSignal): Promise<void> {
    const waitMs = Math.max(10, this.openedAt + this.settings.halfOpenAfterMs - Date.now());
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new ShuttingDown('stopped while the breaker was open'));
      const onAbort = () => {
        clearTimeout(timer);
        reject(new ShuttingDown('stopped while the breaker was open'));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, waitMs);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private emitBlocked(blocked: boolean): void {
    if (this.blocked === blocked) return;
    this.blocked = blocked;
    for (const listener of this.blockedListeners) listener(blocked);
  }
}

/** An answer body as JSON text: JSON as sent (compacted), other text as a JSON string; null when empty or too large. */
export function responseText(body: Buffer | null): string | null {
  if (body === null || body.length === 0) return null;
  const text = body.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return JSON.stringify(text);
  }
}
