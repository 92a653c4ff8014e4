import { describe, expect, it } from 'vitest';
import { LOCAL_DLQ_NOTIFY_SECRET, NOTIFICATIONS_PATH, type ReceivedNotification } from '../../services/cognigy-simulator/notifications.js';
import { startFulfillment } from '../../services/fulfillment/service.js';
import { Header } from '../../shared/headers.js';
import { createLogger } from '../../shared/logging.js';
import { deadLetterWebhookId, type DeadLetterNotice } from '../../shared/stage/dead-letter-notice.js';
import type { ReadRecord } from '../support/topic-reader.js';
import { waitFor } from '../support/wait.js';
import { makeCallback, startHarness } from './support.js';

const notice = (n: ReceivedNotification) => n.body as DeadLetterNotice;
const idOf = (r: ReadRecord) => deadLetterWebhookId({ topic: r.topic, key: r.key, value: r.value, headers: r.headers });

describe.each([
  { mode: 'at-least-once', exactlyOnce: false },
  { mode: 'EXACTLY_ONCE=true', exactlyOnce: true },
])('fulfillment dead-letter notifications ($mode)', ({ exactlyOnce }) => {
  it('a notification for every dead letter in a run where some callbacks are dead-lettered, failed deliveries retried', async () => {
    const h = await startHarness({ EXACTLY_ONCE: String(exactlyOnce) }, { startService: false });
    try {
      const { simulator } = h;
      // The first four downstream calls are refused (4xx: DLQ at once); the first two notifications fail.
      simulator.downstream.setFaults({ script: [422, 422, 422, 422] });
      simulator.notifications.failNext(2);
      const service = await startFulfillment(
        { ...h.config, DLQ_NOTIFY_URL: `${simulator.url}${NOTIFICATIONS_PATH}`, DLQ_NOTIFY_SECRET: LOCAL_DLQ_NOTIFY_SECRET },
        { logger: createLogger('fulfillment', h.config.LOG_LEVEL) },
      );
      try {
        await waitFor(async () => (await fetch(`${service.url}/readyz`)).ok, { timeoutMs: 60_000, what: 'the consumer to join its group' });
        const callbacks = Array.from({ length: 12 }, () => makeCallback());
        await h.send(callbacks);
        const garbage = `evt-garbage-${h.config.FULFILLMENT_GROUP_ID}`;
        await h.sendRaw(h.topics.callbacks, { key: 'garbage-session', value: Buffer.from('not avro'), headers: { [Header.eventId]: garbage } });

        await h.waitForResults([...callbacks.map((c) => c.eventId), garbage]);
        const dlq = await waitFor(() => (h.on(h.topics.dlq).length >= 5 ? h.on(h.topics.dlq) : undefined), { timeoutMs: 30_000, what: 'five dead letters' });
        await waitFor(() => simulator.notifications.accepted().length >= dlq.length, { timeoutMs: 60_000, what: 'a notification per dead letter' });
      } finally {
        // Stopping sends whatever is still queued: after it, nothing more can arrive.
        await service.stop();
      }

      const dlq = h.on(h.topics.dlq);
      expect(dlq.map((r) => r.headers[Header.dlqReason]).sort()).toEqual(['non-retriable', 'non-retriable', 'non-retriable', 'non-retriable', 'undecodable']);
      const received = simulator.notifications.received;
      const accepted = simulator.notifications.accepted();
      expect(received.filter((n) => !n.verified)).toEqual([]);
      // Exactly one delivered notification per dead letter, under the id derived from the written record.
      expect(accepted).toHaveLength(dlq.length);
      expect(accepted.map((n) => n.webhookId).sort()).toEqual(dlq.map(idOf).sort());
      expect(accepted.map((n) => notice(n).data.eventId).sort()).toEqual(dlq.map((r) => r.headers[Header.eventId]).sort());
      for (const record of dlq) {
        const n = accepted.find((a) => a.webhookId === idOf(record))!;
        expect(notice(n)).toMatchObject({
          type: 'dead_letter.written',
          data: {
            service: 'fulfillment',
            sessionId: record.key,
            reason: record.headers[Header.dlqReason],
            errorClass: record.headers[Header.errorClass],
            attempts: Number(record.headers[Header.retryAttempt]),
            original: {
              topic: h.topics.callbacks,
              partition: Number(record.headers[Header.originalPartition]),
              offset: Number(record.headers[Header.originalOffset]),
            },
            deadLetter: { topic: h.topics.dlq },
          },
        });
      }
      // The two injected failures were retried under the same ids, and delivered.
      const failed = received.filter((n) => n.status === 500);
      expect(failed).toHaveLength(2);
      for (const f of failed) expect(accepted.map((a) => a.webhookId)).toContain(f.webhookId);
      const outcomes = await service.metrics.getSingleMetric('dlq_notifications_total')!.get();
      expect(Object.fromEntries(outcomes.values.map((v) => [v.labels.outcome, v.value]))).toEqual({ sent: dlq.length, failed: 0, dropped: 0 });
    } finally {
      await h.stop();
    }
  }, 180_000);
});
