import { describe, expect, it } from 'vitest';
import { grafanaQueryMetricNames, metricNames } from './promql.js';

describe('metricNames', () => {
  it('finds the metric under functions and aggregations, not the label names of `by` or the matchers', () => {
    expect(metricNames('sum by (outcome) (rate(ingress_requests_total{outcome!="accepted", service=~"in.*"}[5m]))')).toEqual(['ingress_requests_total']);
    expect(metricNames('sum(rate(ack_batches_total[5m])) without (instance, service)')).toEqual(['ack_batches_total']);
  });

  it('keeps the histogram series name and drops the quantile, range variables and `le`', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, outcome) (rate(ack_batch_latency_seconds_bucket[$__rate_interval])))')).toEqual([
      'ack_batch_latency_seconds_bucket',
    ]);
  });

  it('finds every operand of binary operators and set operations, and drops the keywords', () => {
    expect(
      metricNames('min_over_time(fulfillment_breaker_state[3m]) > 0 and on (instance) group_left (job) up == bool 1 unless ack_outstanding_results offset 1h30m < 5'),
    ).toEqual(['ack_outstanding_results', 'fulfillment_breaker_state', 'up']);
    expect(metricNames('(sum(increase(a_total[10m])) or vector(0)) + sum(b_total) / 1e3 * -0.5')).toEqual(['a_total', 'b_total']);
  });

  it('ignores what strings, label values and dashboard variables contain', () => {
    expect(metricNames('absent(up{job="ingress"}) or label_replace(x_total, "dst", "by (y) z_total", "src", "(.*)")')).toEqual(['up', 'x_total']);
    expect(metricNames('max by (topic, partition) (kafka_consumer_lag{group=~"$group"}) * $__interval_ms / ${factor}')).toEqual(['kafka_consumer_lag']);
  });

  it('reads subqueries and the @ modifier', () => {
    expect(metricNames('max_over_time(deriv(kafka_consumer_lag[10m])[1h:1m]) @ end()')).toEqual(['kafka_consumer_lag']);
  });

  it('reports a misspelt name as it is written', () => {
    expect(metricNames('sum(rate(fulfilment_results_total[5m]))')).toEqual(['fulfilment_results_total']);
  });
});

describe('grafanaQueryMetricNames', () => {
  it('reads the selector of label_values, not the label it lists', () => {
    expect(grafanaQueryMetricNames('label_values(kafka_consumer_lag, group)')).toEqual(['kafka_consumer_lag']);
    expect(grafanaQueryMetricNames('label_values(kafka_consumer_lag{group=~"$group"}, topic)')).toEqual(['kafka_consumer_lag']);
    expect(grafanaQueryMetricNames('label_values(group)')).toEqual([]);
  });

  it('reads any other query as PromQL', () => {
    expect(grafanaQueryMetricNames('sum(service_ready)')).toEqual(['service_ready']);
  });
});
