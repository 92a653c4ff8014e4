/**
 * When a soak's faults happen, decided from the options alone: what acts at the midpoint of the
 * load (kills, a downstream outage, a Cognigy storm, a rolling restart), the churn schedule of
 * the extra replicas, and the ports the replacement and extra processes need. Pure; the steps
 * themselves are fault-runner.ts.
 */
import type { Killable, SoakOptions } from './args.js';

/** The options that say which faults a run injects. */
export type FaultOptions = Pick<SoakOptions, 'kill' | 'downstreamOutageS' | 'cognigyStormS' | 'rollingRestart' | 'churnS' | 'replicas'>;

/** What a throttling Cognigy asks for in the storm's first half. */
export const STORM_RETRY_AFTER_S = 2;

/** The storm: 429 with Retry-After for its first half, 500 for the second. */
export function stormHalves(seconds: number): { rateLimitedMs: number; serverErrorsMs: number } {
  const rateLimitedMs = Math.round((seconds * 1_000) / 2);
  return { rateLimitedMs, serverErrorsMs: Math.round(seconds * 1_000) - rateLimitedMs };
}

/** True when something acts at the midpoint; the load's phases are then steady, disruption and recovery. */
export function disruptsAtMidpoint(o: FaultOptions): boolean {
  return o.kill.length > 0 || o.downstreamOutageS !== null || o.cognigyStormS !== null || o.rollingRestart;
}

export interface ChurnCycle {
  /** From the start of the load. */
  joinAtMs: number;
  leaveAtMs: number;
}

/**
 * An extra replica joins at S, 3S, 5S ... and leaves S after it joined; only whole cycles that end
 * by the end of the load.
 */
export function churnSchedule(everyS: number, loadMs: number): ChurnCycle[] {
  const everyMs = everyS * 1_000;
  const cycles: ChurnCycle[] = [];
  for (let joinAtMs = everyMs; joinAtMs + everyMs <= loadMs; joinAtMs += 2 * everyMs) cycles.push({ joinAtMs, leaveAtMs: joinAtMs + everyMs });
  return cycles;
}

/** The ingress takes a public and an admin port, every other service one. */
const PORTS: Record<Killable, number> = { ingress: 2, fulfillment: 1, 'ack-aggregator': 1 };

/** Ports for every process the run may start after the first ones: replacements and churning extras. */
export function sparePorts(o: FaultOptions, loadMs: number): number {
  const kills = o.kill.reduce((sum, service) => sum + PORTS[service], 0);
  const restarts = o.rollingRestart ? o.replicas * (PORTS.ingress + PORTS.fulfillment + PORTS['ack-aggregator']) : 0;
  const churn = o.churnS === null ? 0 : churnSchedule(o.churnS, loadMs).length * (PORTS.fulfillment + PORTS['ack-aggregator']);
  return kills + restarts + churn;
}

/** The faults a run was asked for, in words: "kill fulfillment, downstream outage 20 s, ..." or "none". */
export function describeFaults(o: FaultOptions): string {
  const parts = [
    ...o.kill.map((service) => `kill ${service}`),
    ...(o.downstreamOutageS === null ? [] : [`downstream outage ${o.downstreamOutageS} s`]),
    ...(o.cognigyStormS === null ? [] : [`Cognigy storm ${o.cognigyStormS} s`]),
    ...(o.rollingRestart ? ['rolling restart'] : []),
    ...(o.churnS === null ? [] : [`churn every ${o.churnS} s`]),
  ];
  return parts.length === 0 ? 'none' : parts.join(', ');
}
