import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '../../shared/metrics.js';

export type AckMetrics = ReturnType<typeof ackMetrics>;

export function ackMetrics(registry: Registry, outstanding: () => number) {
  const registers = [registry];
  return {
    batches: new Counter({
      name: 'ack_batches_total',
      help: 'Batches resolved, by outcome: accepted (2xx), duplicate (409, applied before), dead_lettered (400)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    acks: new Counter({
      name: 'ack_items_total',
      help: 'Ack items in batches Cognigy accepted, by status',
      labelNames: ['status'] as const,
      registers,
    }),
    processed: new Counter({ name: 'ack_items_processed_total', help: 'Items Cognigy reported as processed', registers }),
    failed: new Counter({ name: 'ack_items_failed_total', help: 'Items Cognigy reported as failed', registers }),
    ackRate: new Gauge({
      name: 'ack_batch_ack_rate',
      help: 'processedCount / batchSize of the last batch Cognigy answered with counts',
      registers,
    }),
    batchSize: new Histogram({
      name: 'ack_batch_size',
      help: 'Items per batch sent to Cognigy',
      buckets: [1, 5, 10, 25, 50, 100, 200, 300, 400, 500],
      registers,
    }),
    latency: new Histogram({
      name: 'ack_batch_latency_seconds',
      help: 'From a batch closing to Cognigy taking it, retries included',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    endToEnd: new Histogram({
      name: 'ack_end_to_end_seconds',
      help: 'From the ingress receiving a callback (received-at) to Cognigy accepting its ack',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    submitFailures: new Counter({
      name: 'ack_submit_failures_total',
      help: 'Batch attempts that will be retried, by error class',
      labelNames: ['error'] as const,
      registers,
    }),
    countMismatches: new Counter({
      name: 'ack_count_mismatches_total',
      help: '2xx answers whose processedCount + failedCount did not equal the batch size (not committed, retried)',
      registers,
    }),
    duplicates: new Counter({
      name: 'ack_duplicates_total',
      help: 'Results not acknowledged because their event id was acknowledged (or is being acknowledged) within ACK_DEDUP_WINDOW_S',
      registers,
    }),
    deadLettered: new Counter({
      name: 'ack_dead_lettered_total',
      help: 'Results written to the DLQ, by dlq-reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    tokenRequests: new Counter({
      name: 'ack_token_requests_total',
      help: 'OAuth2 token requests, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    commits: new Counter({
      name: 'ack_offset_commits_total',
      help: 'Offset commits of the results topic, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    outstanding: new Gauge({
      name: 'ack_outstanding_results',
      help: 'Results delivered and not yet acknowledged or dead-lettered',
      registers,
      collect() {
        this.set(outstanding());
      },
    }),
  };
}
