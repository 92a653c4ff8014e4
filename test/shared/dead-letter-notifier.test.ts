import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { Header } from '../../shared/headers.js';
import { Registry } from '../../shared/metrics.js';
import { deadLetterRecord, readFirstFailedAt } from '../../shared/stage/dead-letter.js';
import { deadLetterNotice, deadLetterWebhookId } from '../../shared/stage/dead-letter-notice.js';
import {
  deadLetterNotifier,
  HttpDeadLetterNotifier,
  NO_DEAD_LETTER_NOTIFICATIONS,
  type FetchLike,
  type NotifierSettings,
} from '../../shared/stage/dead-letter-notifier.js';
import type { ConsumedRecord, OutRecord } from '../../shared/stage/records.js';
import { verify, webhookHeadersOf } from '../../shared/standard-webhooks.js';
import { waitFor } from '../support/wait.js';

const secret = `whsec_${Buffer.from('dead-letter-notifier-test-key-32').toString('base64')}`;
const DLQ = 'cognigy.callbacks.dlq';

function source(offset: number, headers: Record<string, string> = {}): ConsumedRecord {
  return {
    topic: 'cognigy.callbacks.v1',
    partition: 2,
    offset,
    key: Buffer.from(`session-${offset}`),
    value: Buffer.from('original bytes'),
    headers: { [Header.eventId]: `evt-${offset}`, [Header.correlationId]: `corr-${offset}`, ...headers },
    timestamp: 0,
  };
}

/** A dead letter as fulfillment makes it: a later attempt keeps the cycle's first-failed-at. */
function deadLetter(offset: number, opts: { reason?: string; now?: number; attempt?: number; headers?: Record<string, string> } = {}): OutRecord {
  const from = source(offset, opts.headers);
  return deadLetterRecord(from, DLQ, opts.reason ?? 'non-retriable', {
    error: Object.assign(new Error('downstream answered 422'), { name: 'DownstreamRejected' }),
    attempt: opts.attempt ?? 1,
    firstFailedAt: (opts.attempt ?? 1) > 1 ? readFirstFailedAt(from.headers) : undefined,
    now: opts.now ?? Date.now(),
  });
}

interface Call {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A receiver that answers from `answers` in order (then 204), recording every call. */
function fakeReceiver(answers: (number | 'hang')[] = []) {
  const calls: Call[] = [];
  const hanging: (() => void)[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, headers: init.headers as Record<string, string>, body: String(init.body) });
    const answer = answers.shift() ?? 204;
    if (answer === 'hang') {
      await new Promise<void>((resolve, reject) => {
        hanging.push(resolve);
        init.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
      return new Response(null, { status: 204 });
    }
    return new Response(answer === 204 ? null : 'no', { status: answer });
  };
  return { calls, fetch, release: () => hanging.splice(0).forEach((resolve) => resolve()) };
}

function notifierWith(fetch: FetchLike, over: Partial<NotifierSettings> = {}) {
  const metrics = new Registry();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const notifier = new HttpDeadLetterNotifier(
    {
      url: 'http://receiver.test/dlq-notifications',
      secret,
      service: 'fulfillment',
      dlqTopic: DLQ,
      maxAttempts: 5,
      timeoutMs: 1_000,
      maxQueued: 100,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      ...over,
    },
    { logger, metrics, fetch },
  );
  const outcome = async (name: string) => {
    const metric = await metrics.getSingleMetric('dlq_notifications_total')?.get();
    return metric?.values.find((v) => v.labels.outcome === name)?.value ?? 0;
  };
  return { notifier, logs, outcome };
}

const verified = (call: Call) => verify(webhookHeadersOf(call.headers), Buffer.from(call.body), [secret], { toleranceS: 300, nowMs: Date.now() }).ok;

describe('dead-letter notifier', () => {
  it('retries a receiver that fails twice: one notification delivered after 3 signed calls with one webhook-id', async () => {
    const receiver = fakeReceiver([500, 503]);
    const { notifier, outcome } = notifierWith(receiver.fetch);
    const letter = deadLetter(7);

    notifier.notify([letter]);
    await waitFor(async () => (await outcome('sent')) === 1, { timeoutMs: 5_000, what: 'the notification to be sent' });

    expect(receiver.calls).toHaveLength(3);
    expect(receiver.calls.every(verified)).toBe(true);
    expect(new Set(receiver.calls.map((c) => c.headers['webhook-id']))).toEqual(new Set([deadLetterWebhookId(letter)]));
    expect(receiver.calls[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(receiver.calls[2]!.body)).toMatchObject({
      type: 'dead_letter.written',
      data: {
        service: 'fulfillment',
        eventId: 'evt-7',
        correlationId: 'corr-7',
        sessionId: 'session-7',
        reason: 'non-retriable',
        errorClass: 'DownstreamRejected',
        attempts: 1,
        original: { topic: 'cognigy.callbacks.v1', partition: 2, offset: 7 },
        deadLetter: { topic: DLQ },
      },
    });
    expect(await outcome('failed')).toBe(0);
  });

  it('ignores records that are not on the DLQ topic', async () => {
    const receiver = fakeReceiver();
    const { notifier, outcome } = notifierWith(receiver.fetch);
    notifier.notify([{ topic: 'cognigy.fulfillment.results.v1', key: 's', value: null, headers: {} }, deadLetter(1)]);
    await waitFor(async () => (await outcome('sent')) === 1, { timeoutMs: 5_000, what: 'the notification' });
    expect(receiver.calls).toHaveLength(1);
  });

  it('gives up on a receiver that refuses (4xx) at once, and on one that keeps failing after the attempts; logged and counted', async () => {
    const refusing = notifierWith(fakeReceiver([400]).fetch);
    refusing.notifier.notify([deadLetter(1)]);
    await waitFor(async () => (await refusing.outcome('failed')) === 1, { timeoutMs: 5_000, what: 'the refusal' });

    const receiver = fakeReceiver([500, 500, 500, 500]);
    const failing = notifierWith(receiver.fetch, { maxAttempts: 3 });
    failing.notifier.notify([deadLetter(2)]);
    await waitFor(async () => (await failing.outcome('failed')) === 1, { timeoutMs: 5_000, what: 'the retries to run out' });
    expect(receiver.calls).toHaveLength(3);
    expect(await failing.outcome('sent')).toBe(0);
    expect(failing.logs.some((l) => l.msg === 'dead-letter notification failed for good; the dead letter itself is written' && l.eventId === 'evt-2')).toBe(true);
  });

  it('holds at most maxQueued notifications, dropping the oldest, and never waits in notify', async () => {
    const receiver = fakeReceiver(['hang']);
    const { notifier, outcome } = notifierWith(receiver.fetch, { maxQueued: 2, concurrency: 1 });
    const letters = [1, 2, 3, 4, 5].map((offset) => deadLetter(offset));

    notifier.notify(letters.slice(0, 1));
    await waitFor(() => receiver.calls.length === 1, { timeoutMs: 5_000, what: 'the first call to hang' });
    notifier.notify(letters.slice(1));
    expect(await outcome('dropped')).toBe(2);

    receiver.release();
    await waitFor(async () => (await outcome('sent')) === 3, { timeoutMs: 5_000, what: 'the rest to be sent' });
    expect(receiver.calls.map((c) => c.headers['webhook-id'])).toEqual([letters[0], letters[3], letters[4]].map((l) => deadLetterWebhookId(l!)));
  });

  it('at close sends what is queued within the budget and drops what it cannot', async () => {
    const receiver = fakeReceiver();
    const { notifier, outcome } = notifierWith(receiver.fetch);
    notifier.notify([deadLetter(1), deadLetter(2)]);
    await notifier.close(5_000);
    expect(await outcome('sent')).toBe(2);

    const hanging = notifierWith(fakeReceiver(['hang']).fetch, { concurrency: 1 });
    hanging.notifier.notify([deadLetter(1), deadLetter(2)]);
    const started = Date.now();
    await hanging.notifier.close(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    await waitFor(async () => (await hanging.outcome('dropped')) === 2, { timeoutMs: 5_000, what: 'both to count as dropped' });
    hanging.notifier.notify([deadLetter(3)]);
    expect(await hanging.outcome('dropped')).toBe(3);
  });

  it('is a no-op without DLQ_NOTIFY_URL', () => {
    const notifier = deadLetterNotifier({}, { service: 'x', dlqTopic: DLQ }, { logger: pino({ level: 'silent' }), metrics: new Registry() });
    expect(notifier).toBe(NO_DEAD_LETTER_NOTIFICATIONS);
  });
});

describe('dead-letter webhook-id', () => {
  it('is the same for a repeat of the same dead letter, written at another time', () => {
    expect(deadLetterWebhookId(deadLetter(3, { now: 1_000 }))).toBe(deadLetterWebhookId(deadLetter(3, { now: 99_000 })));
    const retried = { [Header.originalTopic]: 'cognigy.callbacks.v1', [Header.originalOffset]: '3', [Header.firstFailedAt]: '2026-01-01T00:00:00.000Z' };
    const exhausted = (now: number) => deadLetter(3, { reason: 'retries-exhausted', attempt: 4, now, headers: retried });
    expect(deadLetterWebhookId(exhausted(1_000))).toBe(deadLetterWebhookId(exhausted(50_000)));
  });

  it('differs for another record, another reason and another redrive of the same record', () => {
    const id = deadLetterWebhookId(deadLetter(3));
    expect(deadLetterWebhookId(deadLetter(4))).not.toBe(id);
    expect(deadLetterWebhookId(deadLetter(3, { reason: 'malformed' }))).not.toBe(id);
    const redriven = deadLetter(3, { headers: { [Header.redrivenFrom]: `${DLQ}:0:12` } });
    expect(deadLetterWebhookId(redriven)).not.toBe(id);
    const retriedAgain = (firstFailedAt: string) =>
      deadLetter(3, { reason: 'retries-exhausted', attempt: 4, headers: { [Header.firstFailedAt]: firstFailedAt, [Header.originalOffset]: '3' } });
    expect(deadLetterWebhookId(retriedAgain('2026-01-01T00:00:00.000Z'))).not.toBe(deadLetterWebhookId(retriedAgain('2026-02-01T00:00:00.000Z')));
  });

  it('the notice reads the original record from the headers, not from where the dead letter was made', () => {
    const notice = deadLetterNotice(
      deadLetter(9, { headers: { [Header.originalTopic]: 'cognigy.callbacks.v1', [Header.originalPartition]: '0', [Header.originalOffset]: '41' } }),
      'ack-aggregator',
      0,
    );
    expect(notice.data.original).toEqual({ topic: 'cognigy.callbacks.v1', partition: 0, offset: 41 });
    expect(notice.timestamp).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('DLQ_NOTIFY_* configuration', () => {
  const fulfillmentEnv = (env: Record<string, string>) => () => loadConfig(FulfillmentEnv, env);
  const ackEnv = (env: Record<string, string>) => () =>
    loadConfig(AckAggregatorEnv, { COGNIGY_CLIENT_ID: 'id', COGNIGY_CLIENT_SECRET: 'secret', ...env });
  const refusal = (load: () => unknown): string => {
    try {
      load();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it.each([fulfillmentEnv, ackEnv])('refuses a URL without a secret, and a secret that is not whsec_ base64, in one line (%#)', (load) => {
    expect(refusal(load({ DLQ_NOTIFY_URL: 'https://ops.example/dlq' }))).toBe('DLQ_NOTIFY_SECRET: expected a whsec_ secret when DLQ_NOTIFY_URL is set');
    const bad = refusal(load({ DLQ_NOTIFY_URL: 'https://ops.example/dlq', DLQ_NOTIFY_SECRET: 'plain-text-secret' }));
    expect(bad).toBe('DLQ_NOTIFY_SECRET: expected whsec_ followed by the base64 of a key of at least 24 bytes');
    expect(refusal(load({ DLQ_NOTIFY_URL: 'https://ops.example/dlq', DLQ_NOTIFY_SECRET: 'whsec_%%%' }))).toMatch(/^DLQ_NOTIFY_SECRET: /);
    expect(refusal(load({ DLQ_NOTIFY_URL: 'ftp://ops.example/dlq', DLQ_NOTIFY_SECRET: secret }))).toBe('DLQ_NOTIFY_URL: expected an http(s) URL');
    expect(bad).not.toContain('\n');
  });

  it('accepts a URL with a whsec_ secret, and no URL at all (an empty one included)', () => {
    expect(loadConfig(FulfillmentEnv, { DLQ_NOTIFY_URL: 'http://127.0.0.1:8090/dlq-notifications', DLQ_NOTIFY_SECRET: secret })).toMatchObject({
      DLQ_NOTIFY_URL: 'http://127.0.0.1:8090/dlq-notifications',
      DLQ_NOTIFY_MAX_ATTEMPTS: 8,
    });
    expect(loadConfig(FulfillmentEnv, { DLQ_NOTIFY_URL: '' }).DLQ_NOTIFY_URL).toBeUndefined();
  });
});
