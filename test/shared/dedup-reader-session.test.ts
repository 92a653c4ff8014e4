import { pino } from 'pino';
import { expect, it } from 'vitest';
import type { Admin, KafkaClient } from '../../shared/kafka.js';
import { startDedupStore } from '../../shared/stage/dedup-store.js';
import { Registry } from '../../shared/metrics.js';

/**
 * After a broker restart a group still lists its member from before, and a new join waits until that
 * member's session expires. The dedup reader joins a group of its own, and every restore waits for
 * it: with kafkajs' default session (30 s) the stage stood still for about 25 s after each broker
 * restart (seen in test/pipeline/broker-restart.int.test.ts). It takes the stage's session instead.
 */
it("gives the dedup changelog reader the stage consumer's session timeout and heartbeat", async () => {
  const configs: Record<string, unknown>[] = [];
  const consumer = {
    events: { END_BATCH_PROCESS: 'end', CRASH: 'crash' },
    on: () => undefined,
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async () => undefined,
    disconnect: async () => undefined,
  };
  const kafka = { consumer: (config: Record<string, unknown>) => (configs.push(config), consumer) } as unknown as KafkaClient;
  const store = await startDedupStore(
    {
      kafka,
      admin: {} as Admin,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      fatal: () => undefined,
      membership: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 2_000 },
    },
    { topic: 'p.cognigy.fulfillment.dedup.v1', groupId: 'cognigy-fulfillment', windowMs: 60_000, maxEntries: 1_000 },
  );
  expect(configs).toHaveLength(1);
  expect(configs[0]).toMatchObject({ sessionTimeout: 6_000, heartbeatInterval: 2_000 });
  expect(String(configs[0]!.groupId)).toMatch(/^cognigy-fulfillment\.dedup-reader\./);
  await store.stop();
});
