import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '../../shared/metrics.js';

export type SessionWriterMetrics = ReturnType<typeof sessionWriterMetrics>;

export function sessionWriterMetrics(registry: Registry, held: () => number) {
  const registers = [registry];
  return {
    results: new Counter({
      name: 'session_writer_results_total',
      help: 'Results finished, by outcome: written, superseded (a newer callback of the session was waiting), stale (older than what was written), dead_lettered',
      labelNames: ['outcome'] as const,
      registers,
    }),
    calls: new Counter({
      name: 'session_writer_calls_total',
      help: 'Session-variable calls to Cognigy, by answer: ok, rate_limited (429), unavailable (5xx, network), unauthorized (401/403), gone (404), refused (other 4xx)',
      labelNames: ['answer'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'session_writer_write_seconds',
      help: 'From a result being taken to its variables being written, waits for the rate limit and retries included',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    endToEnd: new Histogram({
      name: 'session_writer_end_to_end_seconds',
      help: 'From the ingress receiving a callback (received-at) to its session variables being written',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    deadLettered: new Counter({
      name: 'session_writer_dead_lettered_total',
      help: 'Results written to the DLQ, by dlq-reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    commits: new Counter({
      name: 'session_writer_offset_commits_total',
      help: 'Offset commits of the results topic, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    tokenRequests: new Counter({
      name: 'session_writer_token_requests_total',
      help: 'OAuth2 token requests, by outcome',
      labelNames: ['outcome'] as const,
      registers,
    }),
    held: new Gauge({
      name: 'session_writer_held_results',
      help: 'Results delivered and not yet written, skipped or dead-lettered',
      registers,
      collect() {
        this.set(held());
      },
    }),
  };
}
