import type { Admin } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import { readPartitionOffsets } from '../../shared/operations/replay.js';
import { errorMessage } from '../../shared/errors.js';
import { flowView, type MetricJson, type MetricsSample } from './flow.js';
import type { FlowView, LagRow } from './views.js';

export interface FlowSamplerSettings {
  admin: Admin;
  logger: Logger;
  metricsUrls: string[];
  /** The consumer groups and the topics each reads, for the lag table. */
  groups: { group: string; topics: string[] }[];
  intervalMs: number;
  fetch?: typeof fetch;
}

/**
 * Samples the services' metrics and the consumer lag once per interval, however many pages are
 * open: the page asks for the latest view, the pipeline is asked once.
 */
export class FlowSampler {
  private previous: MetricsSample | undefined;
  private latest: FlowView | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly settings: FlowSamplerSettings) {}

  start(): void {
    const tick = () => {
      this.running = this.sample()
        .catch((error: unknown) => this.settings.logger.warn({ err: errorMessage(error) }, 'flow sample failed'))
        .finally(() => {
          this.timer = setTimeout(tick, this.settings.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.running;
    clearTimeout(this.timer);
  }

  /** The latest view; the first one once it exists. */
  async view(): Promise<FlowView> {
    if (this.latest === undefined) await this.running;
    if (this.latest === undefined) throw new Error('no flow sample yet');
    return this.latest;
  }

  private async sample(): Promise<void> {
    const [sources, lag] = await Promise.all([Promise.all(this.settings.metricsUrls.map((url) => this.scrape(url))), this.lag()]);
    const current: MetricsSample = { at: Date.now(), sources };
    this.latest = flowView(current, this.previous, lag);
    this.previous = current;
  }

  private async scrape(url: string): Promise<MetricsSample['sources'][number]> {
    const get = this.settings.fetch ?? fetch;
    try {
      const res = await get(`${url.replace(/\/+$/, '')}/metrics.json`, { signal: AbortSignal.timeout(Math.min(this.settings.intervalMs, 2_000)) });
      if (!res.ok) return { url, metrics: null, error: `HTTP ${res.status}` };
      return { url, metrics: (await res.json()) as MetricJson[] };
    } catch (error) {
      return { url, metrics: null, error: errorMessage(error) };
    }
  }

  private async lag(): Promise<LagRow[]> {
    const rows: LagRow[] = [];
    const existing = new Set(await this.settings.admin.listTopics());
    for (const { group, topics } of this.settings.groups) {
      for (const topic of topics.filter((t) => existing.has(t))) {
        for (const p of await readPartitionOffsets(this.settings.admin, group, topic)) {
          rows.push({ group, topic, partition: p.partition, committed: p.committed, high: p.high, lag: Math.max(0, p.high - (p.committed ?? p.low)) });
        }
      }
    }
    return rows;
  }
}
