import { describe, expect, it } from 'vitest';
import { drainDecision } from '../../tools/soak/drain.js';
import { parseMetrics, parseVmRssKiB, sumBy, sumOf } from '../../tools/soak/prometheus.js';
import { chartOf, memoryTrend, samplesCsv, worstConsumerLag, type ProcessReading, type Sample } from '../../tools/soak/samples.js';

function reading(id: string, rssMiB: number | null): ProcessReading {
  const service = id.split('#')[0] as ProcessReading['service'];
  return { id, service, pid: 1, rssMiB, loopP99Ms: 12, loopMaxMs: 30 };
}

function sample(elapsedS: number, processes: ProcessReading[], extra: Partial<Sample> = {}): Sample {
  return {
    elapsedS,
    phase: 'load',
    processes,
    consumerLag: { fulfillment: 0, 'ack-aggregator': 0 },
    throughput: { acceptedPerS: 100, resultsPerS: 100, acksPerS: 100 },
    totals: { accepted: 0, results: 0, acknowledged: 0 },
    ...extra,
  };
}

/** Samples every 5 s over `minutes` of load; RSS of each process from `rss(id, t)`. */
function run(minutes: number, ids: string[], rss: (id: string, t: number) => number | null): Sample[] {
  const out: Sample[] = [];
  for (let t = 0; t <= minutes * 60; t += 5) out.push(sample(t, ids.map((id) => reading(id, rss(id, t)))));
  return out;
}

describe('memory trend', () => {
  const ids = ['ingress#1', 'fulfillment#1', 'ack-aggregator#1'];

  it('is flat when the last minute stays within 10 % of minute 2', () => {
    const rows = memoryTrend(run(4, ids, () => 100), 240);
    expect(rows.map((r) => r.flat)).toEqual([true, true, true]);
    expect(rows[0]).toMatchObject({ service: 'ingress', minute2MiB: 100, lastMinuteMiB: 100, changePct: 0 });
  });

  it('is not flat for a service whose RSS keeps growing', () => {
    const rows = memoryTrend(run(4, ids, (id, t) => (id.startsWith('fulfillment') ? 100 + t : 100)), 240);
    const fulfillment = rows.find((r) => r.service === 'fulfillment');
    expect(fulfillment?.flat).toBe(false);
    expect(fulfillment?.changePct).toBeGreaterThan(10);
    expect(rows.filter((r) => r.flat).map((r) => r.service)).toEqual(['ingress', 'ack-aggregator']);
  });

  it('compares the processes alive in both windows, not a replacement that started afresh', () => {
    const samples = run(4, [...ids, 'fulfillment#2'], (id, t) => {
      if (id === 'fulfillment#1') return t < 150 ? 200 : null; // killed at 150 s
      if (id === 'fulfillment#2') return t < 155 ? null : 60; // its replacement, smaller
      return 100;
    }).map((s) => ({ ...s, processes: s.processes.filter((p) => p.rssMiB !== null) }));
    const row = memoryTrend([...samples, ...run(4, ['fulfillment#3'], () => 200)], 240).find((r) => r.service === 'fulfillment');
    expect(row?.processes).toEqual(['fulfillment#3']);
    expect(row?.flat).toBe(true);
  });

  it('has nothing to compare before the second minute', () => {
    const rows = memoryTrend(run(1, ids, () => 100), 60);
    expect(rows[0]).toMatchObject({ minute2MiB: null, flat: null });
  });
});

describe('drain decision', () => {
  const drainSample = (t: number, results: number, lag: number | null) =>
    sample(t, [], { phase: 'drain', totals: { accepted: 10, results, acknowledged: results }, consumerLag: { fulfillment: lag, 'ack-aggregator': 0 } });

  it('waits while counts move, decides drained once they have not moved for 12 s with zero lag', () => {
    expect(drainDecision([drainSample(60, 5, 0), drainSample(65, 8, 0)])).toBeUndefined();
    expect(drainDecision([drainSample(65, 10, 0), drainSample(70, 10, 0), drainSample(75, 10, 0)])).toBeUndefined();
    expect(drainDecision([drainSample(65, 10, 0), drainSample(70, 10, 0), drainSample(77, 10, 0)])).toMatchObject({ drained: true });
  });

  it('does not call lag it cannot read zero, and gives up after a minute without progress', () => {
    const stuck = [drainSample(60, 10, null), drainSample(80, 10, null), drainSample(100, 10, null)];
    expect(drainDecision(stuck)).toBeUndefined();
    const decision = drainDecision([...stuck, drainSample(121, 10, 3)]);
    expect(decision).toMatchObject({ drained: false });
    expect(decision?.reason).toMatch(/fulfillment 3/);
  });
});

describe('samples output', () => {
  it('writes a long-format CSV, one value per row, skipping missing values', () => {
    const csv = samplesCsv([sample(5, [reading('ingress#1', 80.5), reading('fulfillment#1', null)])]);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('elapsed_s,phase,metric,subject,value');
    expect(lines).toContain('5.0,load,rss_mib,ingress#1,80.5');
    expect(lines.some((l) => l.includes('rss_mib,fulfillment#1'))).toBe(false);
    expect(lines).toContain('5.0,load,consumer_lag_records,fulfillment,0');
  });

  it('charts four panels with one line per process, leaving the simulator out', () => {
    const chart = chartOf([sample(0, [reading('ingress#1', 80), reading('simulator#1', 300)])], { title: 't', subtitle: 's', markers: [] });
    expect(chart.panels.map((p) => p.unit)).toEqual(['MiB', 'ms', 'records', 'events/s']);
    expect(chart.panels[0]?.series.map((s) => s.name)).toEqual(['ingress#1']);
  });

  it('reports the worst consumer lag per group', () => {
    const lags = worstConsumerLag([
      sample(0, [], { consumerLag: { fulfillment: 3, 'ack-aggregator': null } }),
      sample(5, [], { consumerLag: { fulfillment: 40, 'ack-aggregator': null } }),
    ]);
    expect(lags).toEqual({ fulfillment: 40, 'ack-aggregator': null });
  });
});

describe('reading /metrics and /proc', () => {
  const text = [
    '# HELP kafka_consumer_lag Records not yet committed',
    '# TYPE kafka_consumer_lag gauge',
    'kafka_consumer_lag{group="g",topic="t",partition="0",service="fulfillment"} 3',
    'kafka_consumer_lag{group="g",topic="t",partition="1",service="fulfillment"} 4',
    'nodejs_eventloop_lag_p99_seconds{service="fulfillment"} 0.0125',
    'odd_label{path="a \\"quoted\\" b"} 1',
  ].join('\n');

  it('sums a metric, optionally by label', () => {
    const samples = parseMetrics(text);
    expect(sumOf(samples, 'kafka_consumer_lag')).toBe(7);
    expect(sumOf(samples, 'kafka_consumer_lag', { partition: '1' })).toBe(4);
    expect(sumOf(samples, 'missing_metric')).toBeUndefined();
    expect(sumBy(samples, 'kafka_consumer_lag', 'group')).toEqual(new Map([['g', 7]]));
    expect(sumOf(samples, 'nodejs_eventloop_lag_p99_seconds')).toBe(0.0125);
    expect(samples.at(-1)?.labels.path).toBe('a "quoted" b');
  });

  it('reads VmRSS in KiB from /proc/<pid>/status', () => {
    expect(parseVmRssKiB('Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t  123456 kB\n')).toBe(123_456);
    expect(parseVmRssKiB('Name:\tkthreadd\n')).toBeUndefined();
  });
});
