import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import type { Admin } from './kafka.js';
import type { Logger } from './logging.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per service, with process metrics and a `service` label on everything. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Latency buckets in seconds, from sub-millisecond to a minute. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * `service_ready`: what /readyz answers (1 ready, 0 not), read at scrape time. A stopped process
 * shows as Prometheus' `up == 0`; this shows one that runs and cannot do its work (out of its group,
 * producer disconnected, refusing callbacks).
 */
export function trackReadiness(registry: Registry, ready: () => boolean): void {
  new Gauge({
    name: 'service_ready',
    help: 'Whether /readyz answers 200 (1) or 503 (0)',
    registers: [registry],
    collect() {
      this.set(ready() ? 1 : 0);
    },
  });
}

/**
 * Consumer lag per partition (log end offset minus committed offset), polled through the admin
 * client so it also shows while the consumer is stuck.
 */
export function trackConsumerLag(opts: {
  registry: Registry;
  admin: Admin;
  groupId: string;
  topics: string[];
  intervalMs?: number;
  logger?: Logger;
}): { stop(): void } {
  const gauge = new Gauge({
    name: 'kafka_consumer_lag',
    help: 'Records not yet committed by the consumer group, per topic and partition',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [opts.registry],
  });
  const poll = async () => {
    for (const topic of opts.topics) {
      const [ends, committed] = await Promise.all([
        opts.admin.fetchTopicOffsets(topic),
        opts.admin.fetchOffsets({ groupId: opts.groupId, topics: [topic] }),
      ]);
      const committedByPartition = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      for (const end of ends) {
        const done = committedByPartition.get(end.partition) ?? -1;
        const lag = Number(end.high) - (done < 0 ? Number(end.low) : done);
        gauge.set({ group: opts.groupId, topic, partition: String(end.partition) }, Math.max(0, lag));
      }
    }
  };
  const timer = setInterval(() => {
    poll().catch((error: unknown) => opts.logger?.debug({ err: error }, 'lag poll failed'));
  }, opts.intervalMs ?? 10_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
