import { ExponentialBackoff, TimeoutStrategy, handleWhen, retry, timeout, wrap, type IPolicy } from 'cockatiel';
import { z } from 'zod';
import { env } from '../config.js';
import { NonRetriableError, RetriableError, errorClass, errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import { Counter, Gauge, type Registry } from '../metrics.js';
import { secretProblem, signedHeaders } from '../standard-webhooks.js';
import { deadLetterNotice, deadLetterWebhookId } from './dead-letter-notice.js';
import type { OutRecord } from './records.js';

/**
 * Dead-letter notifications (DLQ_NOTIFY_URL): every record a stage wrote to the DLQ is summarised
 * (dead-letter-notice.ts) and POSTed there, signed the Standard Webhooks way with DLQ_NOTIFY_SECRET.
 *
 * A notification is a side channel of the dead letter, never part of it: `notify` is called only
 * once the write is durable (the send acknowledged, or the transaction committed), returns at once,
 * and can neither fail nor slow the write. Notifications wait in a bounded in-memory queue (the
 * oldest dropped when it is full), are sent a few at a time with retries and backoff, and one that
 * fails for good is logged and counted. The queue is not durable: a crash loses what it held, and
 * the DLQ itself stays the record of truth (`npm run cli -- dlq list`).
 */

/** The variables of every stage that writes dead letters; `checkDeadLetterNotify` holds the cross-field rules. */
export const deadLetterNotifyEnv = {
  DLQ_NOTIFY_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  ),
  DLQ_NOTIFY_SECRET: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  /** Attempts per notification, counting the first. */
  DLQ_NOTIFY_MAX_ATTEMPTS: env.int(8, 1, 100),
  DLQ_NOTIFY_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  /** Notifications waiting to be sent; beyond it the oldest is dropped. */
  DLQ_NOTIFY_MAX_QUEUED: env.int(10_000, 1, 1_000_000),
};

export interface DeadLetterNotifyConfig {
  DLQ_NOTIFY_URL?: string | undefined;
  DLQ_NOTIFY_SECRET?: string | undefined;
  DLQ_NOTIFY_MAX_ATTEMPTS?: number | undefined;
  DLQ_NOTIFY_TIMEOUT_MS?: number | undefined;
  DLQ_NOTIFY_MAX_QUEUED?: number | undefined;
}

/** For a service schema's superRefine: a URL needs a secret, and a secret must be able to sign. */
export function checkDeadLetterNotify(c: DeadLetterNotifyConfig, ctx: z.RefinementCtx): void {
  if (c.DLQ_NOTIFY_SECRET === undefined) {
    if (c.DLQ_NOTIFY_URL !== undefined) ctx.addIssue({ code: 'custom', path: ['DLQ_NOTIFY_SECRET'], message: 'expected a whsec_ secret when DLQ_NOTIFY_URL is set' });
    return;
  }
  const problem = secretProblem(c.DLQ_NOTIFY_SECRET);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['DLQ_NOTIFY_SECRET'], message: problem });
}

/** What the stages call after their DLQ writes. */
export interface DeadLetterNotifier {
  /**
   * Records that are durably written (send acknowledged or transaction committed); those not on the
   * DLQ topic are ignored. Never throws, never waits.
   */
  notify(written: readonly OutRecord[]): void;
  /** Sends what is queued within `budgetMs`, then gives up on the rest (counted as dropped). */
  close(budgetMs: number): Promise<void>;
}

/** Without DLQ_NOTIFY_URL. */
export const NO_DEAD_LETTER_NOTIFICATIONS: DeadLetterNotifier = {
  notify: () => undefined,
  close: async () => undefined,
};

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface NotifierSettings {
  url: string;
  secret: string;
  /** The service name in every notice. */
  service: string;
  dlqTopic: string;
  maxAttempts: number;
  timeoutMs: number;
  maxQueued: number;
  /** Notifications in flight at once. */
  concurrency?: number;
  backoff?: { initialDelayMs: number; maxDelayMs: number };
}

export interface NotifierDeps {
  logger: Logger;
  metrics: Registry;
  fetch?: FetchLike;
  now?: () => number;
}

/** The receiver answered 2xx-less and trying again can help (5xx, 408, 429). */
export class NotificationFailed extends RetriableError {}
/** The receiver refused it (another 4xx): the same request will be refused again. */
export class NotificationRefused extends NonRetriableError {}

interface Pending {
  id: string;
  body: string;
  eventId: string | null;
}

export class HttpDeadLetterNotifier implements DeadLetterNotifier {
  private readonly queue: Pending[] = [];
  private active = 0;
  private closed = false;
  private overflowing = false;
  private readonly stopping = new AbortController();
  private readonly idleWaiters = new Set<() => void>();
  private readonly policy: IPolicy;
  private readonly fetch: FetchLike;
  private readonly now: () => number;
  private readonly outcomes: Counter<'outcome'>;

  constructor(
    private readonly settings: NotifierSettings,
    private readonly deps: NotifierDeps,
  ) {
    this.fetch = deps.fetch ?? ((input, init) => fetch(input, init));
    this.now = deps.now ?? Date.now;
    const backoff = settings.backoff ?? { initialDelayMs: 500, maxDelayMs: 30_000 };
    // Unref'd: a backoff wait must not hold a stopping process open.
    const retrying = retry(handleWhen((error) => !(error instanceof NotificationRefused)), {
      maxAttempts: settings.maxAttempts - 1,
      backoff: new ExponentialBackoff({ initialDelay: backoff.initialDelayMs, maxDelay: backoff.maxDelayMs }),
    }).dangerouslyUnref();
    retrying.onRetry((event) => {
      const reason = 'error' in event ? errorMessage(event.error) : 'unexpected result';
      deps.logger.debug({ attempt: event.attempt, delayMs: Math.round(event.delay), reason }, 'dead-letter notification failed; retrying');
    });
    this.policy = wrap(retrying, timeout(settings.timeoutMs, TimeoutStrategy.Aggressive));
    const registers = [deps.metrics];
    this.outcomes = new Counter({
      name: 'dlq_notifications_total',
      help: 'Dead-letter notifications, by outcome (sent; failed: refused or retries exhausted; dropped: queue full or left at stop)',
      labelNames: ['outcome'] as const,
      registers,
    });
    for (const outcome of ['sent', 'failed', 'dropped']) this.outcomes.inc({ outcome }, 0);
    const queued = () => this.queue.length + this.active;
    new Gauge({
      name: 'dlq_notifications_pending',
      help: 'Dead-letter notifications queued or being sent',
      registers,
      collect() {
        this.set(queued());
      },
    });
  }

  notify(written: readonly OutRecord[]): void {
    for (const record of written) {
      if (record.topic !== this.settings.dlqTopic) continue;
      const pending = this.prepare(record);
      if (this.closed) {
        this.drop(pending, 'stopping');
        continue;
      }
      if (this.queue.length >= this.settings.maxQueued) this.drop(this.queue.shift() as Pending, 'queue full');
      this.queue.push(pending);
    }
    this.pump();
  }

  async close(budgetMs: number): Promise<void> {
    this.closed = true;
    if (!this.idle()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, budgetMs));
        this.idleWaiters.add(done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    this.idleWaiters.clear();
    // In-flight calls and backoff waits end on the abort and count themselves as dropped.
    this.stopping.abort();
    for (const pending of this.queue.splice(0)) this.drop(pending, 'stopping');
  }

  private prepare(record: OutRecord): Pending {
    const notice = deadLetterNotice(record, this.settings.service, this.now());
    return { id: deadLetterWebhookId(record), body: JSON.stringify(notice), eventId: notice.data.eventId };
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.active === 0;
  }

  private pump(): void {
    while (!this.stopping.signal.aborted && this.active < (this.settings.concurrency ?? 4) && this.queue.length > 0) {
      const pending = this.queue.shift() as Pending;
      this.active += 1;
      void this.deliver(pending).finally(() => {
        this.active -= 1;
        this.pump();
        if (this.idle()) for (const wake of this.idleWaiters) wake();
      });
    }
    if (this.queue.length < this.settings.maxQueued) this.overflowing = false;
  }

  private async deliver(pending: Pending): Promise<void> {
    const log = this.deps.logger.child({ webhookId: pending.id, eventId: pending.eventId });
    try {
      await this.policy.execute(({ signal }) => this.post(pending, signal), this.stopping.signal);
      this.outcomes.inc({ outcome: 'sent' });
      log.debug('dead-letter notification sent');
    } catch (error) {
      if (this.stopping.signal.aborted) {
        this.drop(pending, 'stopping');
        return;
      }
      this.outcomes.inc({ outcome: 'failed' });
      log.error({ error: errorClass(error), reason: errorMessage(error) }, 'dead-letter notification failed for good; the dead letter itself is written');
    }
  }

  private async post(pending: Pending, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new NotificationFailed('stopped');
    // Signed at every attempt: the timestamp is the attempt's, so a late retry is not refused as stale.
    const headers = signedHeaders(this.settings.secret, pending.id, pending.body, this.now());
    const response = await this.fetch(this.settings.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: pending.body,
      signal,
    });
    // The answer's body is not needed, but reading it frees the connection for the next call.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    const retriable = response.status >= 500 || response.status === 408 || response.status === 429;
    const message = `receiver answered ${response.status}`;
    throw retriable ? new NotificationFailed(message) : new NotificationRefused(message);
  }

  private drop(pending: Pending, why: 'queue full' | 'stopping'): void {
    this.outcomes.inc({ outcome: 'dropped' });
    if (why === 'queue full') {
      if (this.overflowing) return;
      // Once per overflow, not per notification: a flood of dead letters must not flood the log too.
      this.overflowing = true;
    }
    this.deps.logger.warn({ webhookId: pending.id, eventId: pending.eventId, why, maxQueued: this.settings.maxQueued }, 'dead-letter notification dropped');
  }
}

/** The notifier a stage's configuration asks for: none without DLQ_NOTIFY_URL. */
export function deadLetterNotifier(
  config: DeadLetterNotifyConfig,
  stage: { service: string; dlqTopic: string },
  deps: NotifierDeps,
): DeadLetterNotifier {
  const { DLQ_NOTIFY_URL: url, DLQ_NOTIFY_SECRET: secret } = config;
  if (url === undefined) return NO_DEAD_LETTER_NOTIFICATIONS;
  // Configurations built in code skip the schema's check.
  const problem = secret === undefined ? 'expected a whsec_ secret when DLQ_NOTIFY_URL is set' : secretProblem(secret);
  if (problem !== undefined || secret === undefined) throw new Error(`DLQ_NOTIFY_SECRET: ${problem}`);
  return new HttpDeadLetterNotifier(
    {
      url,
      secret,
      service: stage.service,
      dlqTopic: stage.dlqTopic,
      maxAttempts: config.DLQ_NOTIFY_MAX_ATTEMPTS ?? 8,
      timeoutMs: config.DLQ_NOTIFY_TIMEOUT_MS ?? 5_000,
      maxQueued: config.DLQ_NOTIFY_MAX_QUEUED ?? 10_000,
    },
    deps,
  );
}
