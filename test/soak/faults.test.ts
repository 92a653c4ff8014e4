import { describe, expect, it } from 'vitest';
import { churnSchedule, describeFaults, disruptsAtMidpoint, sparePorts, stormHalves, type FaultOptions } from '../../tools/soak/faults.js';

const none: FaultOptions = {
  kill: [],
  downstreamOutageS: null,
  cognigyStormS: null,
  rollingRestart: false,
  churnS: null,
  replicas: 2,
};

describe('soak fault plan', () => {
  it('churns in whole cycles: a join every 2*S seconds from S on, each leaving S later, the last by the end of the load', () => {
    expect(churnSchedule(20, 120_000)).toEqual([
      { joinAtMs: 20_000, leaveAtMs: 40_000 },
      { joinAtMs: 60_000, leaveAtMs: 80_000 },
      { joinAtMs: 100_000, leaveAtMs: 120_000 },
    ]);
    // A cycle that would leave after the load ended is not started.
    expect(churnSchedule(20, 119_999)).toHaveLength(2);
    expect(churnSchedule(30, 60_000)).toEqual([{ joinAtMs: 30_000, leaveAtMs: 60_000 }]);
    expect(churnSchedule(31, 60_000)).toEqual([]);
  });

  it('splits a storm into 429s then 500s, together as long as asked', () => {
    expect(stormHalves(30)).toEqual({ rateLimitedMs: 15_000, serverErrorsMs: 15_000 });
    expect(stormHalves(0.005)).toEqual({ rateLimitedMs: 3, serverErrorsMs: 2 });
  });

  it('acts at the midpoint for kills, outages, storms and rolling restarts, not for churn alone', () => {
    expect(disruptsAtMidpoint(none)).toBe(false);
    expect(disruptsAtMidpoint({ ...none, churnS: 10 })).toBe(false);
    expect(disruptsAtMidpoint({ ...none, kill: ['ingress'] })).toBe(true);
    expect(disruptsAtMidpoint({ ...none, downstreamOutageS: 10 })).toBe(true);
    expect(disruptsAtMidpoint({ ...none, cognigyStormS: 10 })).toBe(true);
    expect(disruptsAtMidpoint({ ...none, rollingRestart: true })).toBe(true);
  });

  it('picks a port for every process started after the first ones: two per ingress, one per consumer', () => {
    expect(sparePorts(none, 60_000)).toBe(0);
    expect(sparePorts({ ...none, kill: ['ingress', 'fulfillment'] }, 60_000)).toBe(3);
    // Every replica of every service replaced once.
    expect(sparePorts({ ...none, rollingRestart: true }, 60_000)).toBe(2 * 4);
    // Three cycles, each an extra fulfillment and aggregator.
    expect(sparePorts({ ...none, churnS: 20 }, 120_000)).toBe(3 * 2);
    // Outages and storms start no process.
    expect(sparePorts({ ...none, downstreamOutageS: 30, cognigyStormS: 30 }, 60_000)).toBe(0);
  });

  it('names the faults of a run in the report', () => {
    expect(describeFaults(none)).toBe('none');
    expect(describeFaults({ ...none, kill: ['fulfillment'], downstreamOutageS: 60, cognigyStormS: 20, rollingRestart: true, churnS: 15 })).toBe(
      'kill fulfillment, downstream outage 60 s, Cognigy storm 20 s, rolling restart, churn every 15 s',
    );
  });
});
