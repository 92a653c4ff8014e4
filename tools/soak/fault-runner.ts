/**
 * Carries out a soak's faults (planned in faults.ts) against the fleet and the simulator's admin
 * routes, and notes each step as a timed event for the report; the chart draws kills as instants
 * and the rest as periods (an outage, a storm's halves, a rolling restart, an extra replica's life).
 */
import { delay } from '../infra/process.js';
import type { Killable, SoakOptions } from './args.js';
import { churnSchedule, STORM_RETRY_AFTER_S, stormHalves } from './faults.js';
import type { Marker, Span } from './chart.js';
import type { Fleet, ServiceProcess } from './fleet.js';
import type { Disruption, FaultEvent, Restart } from './report.js';
import { PIPELINE_SERVICES } from './samples.js';

const REPLACE_AFTER_MS = 5_000;
/** Long enough for any service's own SHUTDOWN_TIMEOUT_MS (15 s by default) to run out first. */
const STOP_GRACE_MS = 30_000;
/** Counts no storm outlasts: the faults are lifted by clearing them. */
const ALWAYS = 1_000_000_000;

export type Log = (line: string) => void;

export class FaultRunner {
  /** Every step, in order. */
  readonly events: FaultEvent[] = [];
  /** For the chart, in minutes since the load started: kills and replacements ready as instants, the rest as periods. */
  readonly instants: Marker[] = [];
  readonly periods: Span[] = [];
  /** SIGKILLs and their replacements (--kill). */
  readonly disruptions: Disruption[] = [];
  /** SIGTERMs and their replacements (--rolling-restart), and the churning replicas' leaves. */
  readonly restarts: Restart[] = [];

  constructor(
    private readonly fleet: Fleet,
    /** Seconds since the load started. */
    private readonly seconds: () => number,
    private readonly log: Log,
  ) {}

  /** Everything that acts at the midpoint, side by side; resolves when the last of it is over. */
  async midpoint(o: SoakOptions): Promise<void> {
    await Promise.all([
      o.kill.length > 0 ? this.kill(o.kill) : undefined,
      o.downstreamOutageS === null ? undefined : this.downstreamOutage(o.downstreamOutageS),
      o.cognigyStormS === null ? undefined : this.cognigyStorm(o.cognigyStormS),
      o.rollingRestart ? this.rollingRestart() : undefined,
    ]);
  }

  /** An extra fulfillment and aggregator replica join and leave on the churn schedule; `loadStartedAt` is epoch ms. */
  async churn(everyS: number, loadMs: number, loadStartedAt: number): Promise<void> {
    for (const cycle of churnSchedule(everyS, loadMs)) {
      await delay(loadStartedAt + cycle.joinAtMs - Date.now());
      let extras: ServiceProcess[];
      try {
        extras = await Promise.all([this.fleet.add('fulfillment', { extra: true }), this.fleet.add('ack-aggregator', { extra: true })]);
      } catch (error) {
        this.note(`churn: join failed: ${firstLine(error)}`);
        continue;
      }
      const joined = this.note(`churn: ${extras.map((p) => `+${p.id}`).join(' ')}`);
      await delay(loadStartedAt + cycle.leaveAtMs - Date.now());
      this.note(`churn: ${extras.map((p) => `-${p.id}`).join(' ')} (SIGTERM)`);
      await Promise.all(extras.map((p) => this.stop(p, false)));
      this.period(joined, 'extra replicas');
    }
  }

  private async kill(kills: readonly Killable[]): Promise<void> {
    const victims = kills.map((service) => ({ service, victim: this.fleet.kill(service), at: this.seconds() }));
    for (const { service, victim } of victims) this.instant(this.note(victim ? `kill ${victim.id}` : `no live ${service} to kill`));
    await delay(REPLACE_AFTER_MS);
    await Promise.all(
      victims.map(async ({ service, victim, at }) => {
        const entry: Disruption = { service, killed: victim?.id ?? `(no live ${service})`, killedAtS: at };
        this.disruptions.push(entry);
        try {
          const replacement = await this.fleet.add(service);
          entry.replacement = replacement.id;
          entry.replacementReadyAtS = this.seconds();
          this.instant(this.note(`${replacement.id} ready`));
        } catch (error) {
          entry.error = firstLine(error);
          this.note(`replacement for ${entry.killed} failed: ${entry.error}`);
        }
      }),
    );
  }

  private async downstreamOutage(seconds: number): Promise<void> {
    await this.admin('POST', '/admin/downstream/faults', { outage: true });
    const down = this.note(`downstream down (503) for ${seconds} s`);
    await delay(seconds * 1_000);
    await this.admin('POST', '/admin/downstream/faults', { outage: false });
    this.note('downstream back');
    this.period(down, 'downstream down');
  }

  private async cognigyStorm(seconds: number): Promise<void> {
    const { rateLimitedMs, serverErrorsMs } = stormHalves(seconds);
    await this.admin('POST', '/admin/cognigy/faults', { rateLimit: { count: ALWAYS, retryAfterS: STORM_RETRY_AFTER_S } });
    const throttled = this.note(`Cognigy 429 (Retry-After ${STORM_RETRY_AFTER_S} s) for ${rateLimitedMs / 1_000} s`);
    await delay(rateLimitedMs);
    await this.admin('DELETE', '/admin/cognigy/faults');
    await this.admin('POST', '/admin/cognigy/faults', { serverErrors: ALWAYS });
    const failing = this.note(`Cognigy 500 for ${serverErrorsMs / 1_000} s`);
    this.period(throttled, 'Cognigy 429');
    await delay(serverErrorsMs);
    await this.admin('DELETE', '/admin/cognigy/faults');
    this.note('Cognigy back');
    this.period(failing, 'Cognigy 500');
  }

  /** Each replica there was at the midpoint, service by service: SIGTERM, its exit, its replacement ready, then the next. */
  private async rollingRestart(): Promise<void> {
    const startedAtS = this.seconds();
    try {
      await this.restartEach();
    } finally {
      this.period(startedAtS, 'rolling restart');
    }
  }

  private async restartEach(): Promise<void> {
    for (const service of PIPELINE_SERVICES) {
      for (const replica of this.fleet.ready(service).filter((p) => p.extra !== true)) {
        const entry = await this.stop(replica);
        try {
          const replacement = await this.fleet.add(service);
          entry.replacement = replacement.id;
          entry.replacementReadyAtS = this.seconds();
          this.note(`${replacement.id} ready`);
        } catch (error) {
          entry.error = firstLine(error);
          this.note(`replacement for ${replica.id} failed: ${entry.error}`);
          return;
        }
      }
    }
  }

  /** SIGTERM and the wait for the exit, recorded with how it exited. */
  private async stop(p: ServiceProcess, noted = true): Promise<Restart> {
    const entry: Restart = { service: p.service, stopped: p.id, signalAtS: this.seconds() };
    this.restarts.push(entry);
    if (noted) this.note(`SIGTERM ${p.id}`);
    await this.fleet.terminate(p, STOP_GRACE_MS);
    entry.exitedAtS = this.seconds();
    entry.exit = p.exit ?? 'unknown';
    this.log(`${p.id} exited (${entry.exit}) ${(entry.exitedAtS - entry.signalAtS).toFixed(1)} s after SIGTERM`);
    return entry;
  }

  private async admin(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<void> {
    const res = await fetch(`${this.fleet.simulatorUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) throw new Error(`the simulator answered ${res.status} to ${method} ${path}: ${await res.text()}`);
  }

  /** Notes a step; returns when it happened (seconds since the load started). */
  private note(label: string): number {
    const atS = this.seconds();
    this.events.push({ atS, label });
    this.log(`${label} at ${atS.toFixed(1)} s`);
    return atS;
  }

  /** The last noted step, drawn as an instant. */
  private instant(atS: number): void {
    this.instants.push({ x: atS / 60, label: this.events.at(-1)?.label ?? '' });
  }

  /** A period from `fromS` until now, drawn shaded. */
  private period(fromS: number, label: string): void {
    this.periods.push({ from: fromS / 60, to: this.seconds() / 60, label });
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
