/**
 * Open-loop load at a fixed rate: callback i leaves at start + i / rate whatever happened to the
 * ones before (as bench/paced.ts), round-robin over the live ingress instances. A share of
 * callbacks is sent again, byte for byte, to another instance 0-2 s later, as a redelivery behind a
 * load balancer would be. Every answer is counted by the phase it was sent in.
 */
import { Agent, request } from 'node:http';
import { signedCallback, type SignedCallback } from './payloads.js';

export interface Target {
  id: string;
  port: number;
}

/**
 * `retried`: the ingress closed a reused keep-alive connection as the request went out on it (it
 * was stopping), so the request is sent again at once on a new connection to an instance in the
 * rotation, as node's documentation advises a client to do and a load balancer does; the second
 * attempt is counted on its own.
 */
export type AttemptOutcome = '2xx' | '4xx' | '5xx' | 'refused' | 'reset' | 'retried' | 'timeout' | 'error';
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['2xx', '4xx', '5xx', 'refused', 'reset', 'retried', 'timeout', 'error'];

export interface LoadSettings {
  runId: string;
  secret: string;
  rate: number;
  /** How long to send; Infinity sends until stop(). */
  durationMs: number;
  duplicates: number;
  /** A redelivery follows its first copy within this (uniformly spread); 2 s by default. */
  redeliveryWithinMs?: number;
  /** The ingress instances to send to right now. */
  targets: () => readonly Target[];
  /** The phase a request sent now belongs to ("steady", "disruption", "recovery"). */
  phase: () => string;
  random?: () => number;
}

const REQUEST_TIMEOUT_MS = 15_000;
const REDELIVERY_MAX_DELAY_MS = 2_000;

/** How a request ended: its HTTP status class, or why there was no answer. */
export function classify(status: number | undefined, error?: NodeJS.ErrnoException): AttemptOutcome {
  if (status !== undefined) return status < 300 ? '2xx' : status < 500 ? '4xx' : '5xx';
  if (error?.code === 'ECONNREFUSED') return 'refused';
  if (error?.code === 'ETIMEDOUT' || error?.message === 'timeout') return 'timeout';
  if (error?.code === 'ECONNRESET' || error?.code === 'EPIPE' || /socket hang up/.test(error?.message ?? '')) return 'reset';
  return 'error';
}

export class LoadGenerator {
  /** Distinct event ids answered 2xx. */
  readonly accepted = new Set<string>();
  /** Event ids with an attempt whose fate is unknown (no answer, or a 5xx): they may have been written. */
  readonly unanswered = new Set<string>();
  /** Attempts by phase and outcome. */
  readonly outcomes = new Map<string, Map<AttemptOutcome, number>>();
  /** Latency of 2xx answers, ms from the scheduled send. */
  readonly latenciesMs: number[] = [];
  sent = 0;
  redeliveries = 0;
  /** Redeliveries that had to go to the same instance (only one was live). */
  redeliveriesSameInstance = 0;
  private rr = 0;
  private inFlight = 0;
  private stopped = false;
  private readonly agents = new Map<number, Agent>();

  constructor(private readonly s: LoadSettings) {}

  /** Sends for the whole duration (or until stop()); resolves once every request and redelivery has been answered or given up. */
  async run(): Promise<void> {
    const random = this.s.random ?? Math.random;
    const total = Math.round(this.s.rate * (this.s.durationMs / 1_000));
    const start = performance.now() + 20;
    const timers = new Set<NodeJS.Timeout>();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (!this.stopped && this.sent < total && start + (this.sent * 1_000) / this.s.rate <= now) {
          const scheduledAt = start + (this.sent * 1_000) / this.s.rate;
          const callback = signedCallback(this.s.runId, this.sent, this.s.secret);
          this.sent += 1;
          const first = this.nextTarget();
          this.send(callback, first, scheduledAt);
          if (random() < this.s.duplicates) {
            const timer = setTimeout(() => {
              timers.delete(timer);
              this.redeliver(callback, first);
            }, random() * (this.s.redeliveryWithinMs ?? REDELIVERY_MAX_DELAY_MS));
            timers.add(timer);
          }
        }
        if (!this.stopped && this.sent < total) setTimeout(tick, 1);
        else resolve();
      };
      setTimeout(tick, 20);
    });
    await waitUntil(() => timers.size === 0 && this.inFlight === 0);
    for (const agent of this.agents.values()) agent.destroy();
  }

  /** Sends no further callback; redeliveries already scheduled still go out. */
  stop(): void {
    this.stopped = true;
  }

  attempts(): number {
    let sum = 0;
    for (const byOutcome of this.outcomes.values()) for (const n of byOutcome.values()) sum += n;
    return sum;
  }

  private nextTarget(): Target | undefined {
    const live = this.s.targets();
    if (live.length === 0) return undefined;
    this.rr = (this.rr + 1) % live.length;
    return live[this.rr];
  }

  private redeliver(callback: SignedCallback, first: Target | undefined): void {
    const live = this.s.targets();
    const other = live.find((t) => t.id !== first?.id);
    if (other === undefined) this.redeliveriesSameInstance += 1;
    this.redeliveries += 1;
    this.send(callback, other ?? first, performance.now());
  }

  private send(callback: SignedCallback, target: Target | undefined, scheduledAt: number, isRetry = false): void {
    const phase = this.s.phase();
    if (target === undefined) {
      this.count(phase, 'refused');
      return;
    }
    this.inFlight += 1;
    let done = false;
    const finish = (outcome: AttemptOutcome, eventId?: string) => {
      if (done) return;
      done = true;
      this.inFlight -= 1;
      this.count(phase, outcome);
      if (outcome === '2xx') {
        this.accepted.add(eventId ?? callback.eventId);
        this.latenciesMs.push(performance.now() - scheduledAt);
      } else if (outcome !== 'refused' && outcome !== '4xx') {
        this.unanswered.add(callback.eventId);
      }
    };
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: '/webhooks/cognigy',
        method: 'POST',
        agent: this.agentFor(target.port),
        headers: { ...callback.headers, 'content-length': Buffer.byteLength(callback.body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => finish(classify(res.statusCode), answeredEventId(Buffer.concat(chunks).toString('utf8'))));
        res.once('error', (error) => finish(classify(undefined, error)));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.once('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket && error.code === 'ECONNRESET' && !isRetry) {
        finish('retried');
        this.send(callback, this.nextTarget(), scheduledAt, true);
        return;
      }
      finish(classify(undefined, error));
    });
    req.end(callback.body);
  }

  private count(phase: string, outcome: AttemptOutcome): void {
    let byOutcome = this.outcomes.get(phase);
    if (byOutcome === undefined) this.outcomes.set(phase, (byOutcome = new Map()));
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  private agentFor(port: number): Agent {
    let agent = this.agents.get(port);
    if (agent === undefined) this.agents.set(port, (agent = new Agent({ keepAlive: true, maxSockets: 128 })));
    return agent;
  }
}

/** The event id the ingress answered with, which is the one it wrote. */
function answeredEventId(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { eventId?: unknown };
    return typeof parsed.eventId === 'string' ? parsed.eventId : undefined;
  } catch {
    return undefined;
  }
}

async function waitUntil(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 50));
}
