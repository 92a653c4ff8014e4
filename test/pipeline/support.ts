import { appendFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { startAckAggregator, type AckAggregatorHandle } from '../../services/ack-aggregator/service.js';
import { startSimulator, type RunningSimulator } from '../../services/cognigy-simulator/app.js';
import { SIMULATOR_CREDENTIALS } from '../../services/cognigy-simulator/cognigy-api.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { startFulfillment, type FulfillmentHandle } from '../../services/fulfillment/service.js';
import { IngressEnv } from '../../services/ingress/config.js';
import { startIngress, type IngressHandle } from '../../services/ingress/service.js';
import { loadConfig } from '../../shared/config.js';
import { Header } from '../../shared/headers.js';
import { createKafka, type Admin, type KafkaClient } from '../../shared/kafka.js';
import type { Logger } from '../../shared/logging.js';
import type { StageHandle } from '../../shared/stage/stage.js';
import { readTopicRange } from '../../shared/stage/topic-reader.js';
import { fulfillmentInputs, topicNames, type TopicNames } from '../../shared/topics.js';
import { judgeRun, type Census } from '../../tools/soak/census.js';
import type { Verdict } from '../../tools/soak/invariant.js';
import { LoadGenerator, type Target } from '../../tools/soak/load.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName, waitFor } from '../support/wait.js';

/**
 * A whole pipeline in this process, built from the services' own start functions, so a test can
 * stop, start and add members one at a time: the simulator, one ingress, and any number of
 * fulfillment and ack-aggregator members of one group each. Signed callbacks come from the soak's
 * open-loop load generator. What would stop a service is collected, not acted on: a stage's fatal
 * crash (deps.onFatal), any fatal log line, and any error nothing caught.
 */

export const DELIVERY_MODES = [
  { mode: 'at-least-once', exactlyOnce: false },
  { mode: 'exactly-once', exactlyOnce: true },
] as const;

const SECRET = 'faults-webhook-secret';

export class FaultWorld {
  readonly topics: TopicNames;
  readonly groups: { fulfillment: string; acks: string };
  /** Fatal crashes and escaped errors, one line each; a passing scenario leaves it empty. */
  readonly deaths: string[] = [];
  ingress: IngressHandle | undefined;
  /** Members in start order; a stopped one is removed. */
  readonly fulfillment: FulfillmentHandle[] = [];
  readonly acks: AckAggregatorHandle[] = [];
  private readonly infra = testInfra();
  private readonly logger: Logger;
  private readonly kafka: KafkaClient;
  private readonly admin: Admin;
  private readonly onEscape = (error: unknown) => void this.deaths.push(`escaped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);

  private constructor(
    readonly sim: RunningSimulator,
    /** Topic prefix (with a dot) and group ids start with it. */
    readonly name: string,
    private readonly env: Record<string, string>,
    readonly exactlyOnce: boolean,
  ) {
    this.topics = topicNames(`${name}.`);
    this.groups = { fulfillment: `${name}-fulfillment`, acks: `${name}-acks` };
    this.logger = deathWatch(this.deaths);
    this.kafka = createKafka({ brokers: this.infra.kafkaBrokers.split(','), clientId: 'faults-offsets' });
    this.admin = this.kafka.admin();
    process.on('uncaughtException', this.onEscape);
    process.on('unhandledRejection', this.onEscape);
  }

  /** The simulator, an ingress, one fulfillment member and one aggregator member, each ready. */
  static async start(opts: { exactlyOnce: boolean; env?: Record<string, string> }): Promise<FaultWorld> {
    const sim = await startSimulator();
    const name = uniqueName(opts.exactlyOnce ? 'faults-eos' : 'faults-alo');
    const infra = testInfra();
    const env = {
      KAFKA_BROKERS: infra.kafkaBrokers,
      SCHEMA_REGISTRY_URL: infra.schemaRegistryUrl,
      TOPIC_PREFIX: `${name}.`,
      TOPIC_PARTITIONS: '3',
      EXACTLY_ONCE: String(opts.exactlyOnce),
      FULFILLMENT_GROUP_ID: `${name}-fulfillment`,
      ACK_GROUP_ID: `${name}-acks`,
      COGNIGY_WEBHOOK_SECRETS: SECRET,
      INGRESS_PORT: '0',
      INGRESS_ADMIN_PORT: '0',
      INGRESS_HOST: '127.0.0.1',
      FULFILLMENT_PORT: '0',
      FULFILLMENT_HOST: '127.0.0.1',
      ACK_AGGREGATOR_PORT: '0',
      ACK_AGGREGATOR_HOST: '127.0.0.1',
      DOWNSTREAM_URL: `${sim.url}/v1/fulfill`,
      COGNIGY_BASE_URL: sim.url,
      COGNIGY_CLIENT_ID: SIMULATOR_CREDENTIALS.clientId,
      COGNIGY_CLIENT_SECRET: SIMULATOR_CREDENTIALS.clientSecret,
      // A member that vanished is noticed within the shortest session the services allow.
      FULFILLMENT_SESSION_TIMEOUT_MS: '6000',
      ACK_SESSION_TIMEOUT_MS: '6000',
      ACK_WINDOW_MS: '500',
      COGNIGY_RETRY_BASE_DELAY_MS: '200',
      COGNIGY_RETRY_MAX_DELAY_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...opts.env,
    };
    const world = new FaultWorld(sim, name, env, opts.exactlyOnce);
    await world.admin.connect();
    await world.startIngress();
    await world.startFulfillment();
    await world.startAggregator();
    return world;
  }

  /** Starts the ingress (a new one after a stop, on a new port) and resolves once it is ready. */
  async startIngress(): Promise<IngressHandle> {
    const ingress = await startIngress(loadConfig(IngressEnv, this.env), { logger: this.logger.child({ service: 'ingress' }) });
    await waitFor(async () => (await fetch(`${ingress.adminUrl}/readyz`)).status === 200, { timeoutMs: 30_000, intervalMs: 100, what: 'the ingress to be ready' });
    this.ingress = ingress;
    return ingress;
  }

  /** Takes the ingress out of the load generator's rotation first, as a load balancer would, then stops it. */
  async stopIngress(): Promise<void> {
    const ingress = this.ingress;
    this.ingress = undefined;
    await ingress?.stop();
  }

  /** One more fulfillment member; resolves once it is in the group. */
  async startFulfillment(): Promise<FulfillmentHandle> {
    const member = await startFulfillment(loadConfig(FulfillmentEnv, this.env), this.stageDeps('fulfillment', this.fulfillment.length));
    await untilReady(member, 'a fulfillment member to join its group');
    this.fulfillment.push(member);
    return member;
  }

  /** One more aggregator member; resolves once it is in the group. */
  async startAggregator(): Promise<AckAggregatorHandle> {
    const member = await startAckAggregator(loadConfig(AckAggregatorEnv, this.env), this.stageDeps('ack-aggregator', this.acks.length));
    await untilReady(member, 'an aggregator member to join its group');
    this.acks.push(member);
    return member;
  }

  /** Graceful stop of a member (drain, commit, leave the group). */
  async stopMember(member: StageHandle): Promise<void> {
    for (const members of [this.fulfillment, this.acks] as StageHandle[][]) {
      const at = members.indexOf(member);
      if (at >= 0) members.splice(at, 1);
    }
    await member.stop();
  }

  /**
   * Signed callbacks at `rate` per second to the ingress while it is up, until stopped; requests
   * while it is not are counted as refused. A share (`duplicates`) is delivered a second time, byte
   * for byte, within `redeliveryWithinMs` (2 s by default), as Cognigy redelivers: the ingress
   * answers a copy it has seen from its own memory, and a copy reaching a restarted ingress is
   * written again, for the stages to drop.
   */
  load(rate: number, opts: { phase?: () => string; duplicates?: number; redeliveryWithinMs?: number } = {}): LoadGenerator {
    const targets = (): Target[] => (this.ingress === undefined ? [] : [{ id: `ingress-${this.ingress.port}`, port: this.ingress.port }]);
    return new LoadGenerator({
      runId: this.name,
      secret: SECRET,
      rate,
      durationMs: Number.POSITIVE_INFINITY,
      duplicates: opts.duplicates ?? 0.05,
      redeliveryWithinMs: opts.redeliveryWithinMs,
      targets,
      phase: opts.phase ?? (() => 'steady'),
    });
  }

  /**
   * Waits until every accepted callback is acknowledged and both groups have committed everything
   * written to their inputs: each commits only after passing a record on, so no result and no
   * acknowledgment is left to come, and a duplicate would have shown.
   */
  async settled(load: LoadGenerator, timeoutMs = 90_000): Promise<void> {
    const acknowledged = this.sim.cognigy.acknowledged;
    const missing = () => [...load.accepted].filter((id) => !acknowledged.has(id));
    await waitFor(() => missing().length === 0, { timeoutMs, intervalMs: 250, what: 'every accepted callback acknowledged' }).catch((error: Error) => {
      throw new Error(`${error.message}: ${missing().length} of ${load.accepted.size} not acknowledged, e.g. ${missing().slice(0, 3).join(', ')}; deaths: ${this.deaths.join('; ') || 'none'}`);
    });
    const attempts = loadConfig(FulfillmentEnv, this.env).RETRY_MAX_ATTEMPTS;
    // To the end: under exactly-once a retry tier's last entry is a commit marker, and the commit passes it too.
    await this.committedEverything(this.groups.fulfillment, fulfillmentInputs(this.topics, attempts), 'fulfillment to commit every record it read');
    await this.committedEverything(this.groups.acks, [this.topics.results], 'the aggregator to commit every result');
  }

  /** Until `groupId` has committed every partition of `topics` to its end, in two readings in a row with the ends unchanged. */
  private async committedEverything(groupId: string, topics: string[], what: string): Promise<void> {
    let previous = '';
    let behind: string[] = [];
    const reading = async () => {
      const partitions = await Promise.all(
        topics.map(async (topic) => {
          const [ends, [committed]] = await Promise.all([this.admin.fetchTopicOffsets(topic), this.admin.fetchOffsets({ groupId, topics: [topic] })]);
          return ends.map((end) => ({ topic, partition: end.partition, end: Number(end.high), at: Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1) }));
        }),
      );
      return partitions.flat();
    };
    await waitFor(
      async () => {
        const now = await reading();
        const ends = now.map((p) => `${p.topic}/${p.partition}:${p.end}`).join(',');
        const stable = ends === previous;
        previous = ends;
        behind = now.filter((p) => p.end > 0 && p.at < p.end).map((p) => `${p.topic}/${p.partition} committed ${p.at} of ${p.end}`);
        return stable && behind.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 500, what },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; behind: ${behind.join(', ') || 'none (the ends kept moving)'}`);
    });
  }

  /** The soak's census and invariant over this world's topics and the simulator's record. */
  async verdict(load: LoadGenerator): Promise<{ census: Census; verdict: Verdict }> {
    return judgeRun(
      { kafkaBrokers: this.infra.kafkaBrokers, schemaRegistryUrl: this.infra.schemaRegistryUrl, topicPrefix: `${this.name}.`, simulatorUrl: this.sim.url },
      load,
    );
  }

  /** Event ids the ingress wrote to the callbacks topic more than once (redeliveries it could not recognise). */
  async writtenTwice(): Promise<string[]> {
    const ends = await this.admin.fetchTopicOffsets(this.topics.callbacks);
    const range = await readTopicRange(this.kafka, {
      topic: this.topics.callbacks,
      groupId: uniqueName('faults-callbacks'),
      from: new Map(ends.map((e) => [e.partition, Number(e.low)])),
      to: new Map(ends.map((e) => [e.partition, Number(e.high)])),
      timeoutMs: 60_000,
    });
    await range.close();
    const times = new Map<string, number>();
    for (const record of range.records) {
      const eventId = record.headers[Header.eventId] ?? '';
      times.set(eventId, (times.get(eventId) ?? 0) + 1);
    }
    return [...times].filter(([, n]) => n > 1).map(([eventId]) => eventId);
  }

  /** The group's committed offsets on the results topic, per partition (-1: none). */
  async committedResults(): Promise<Map<number, number>> {
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.groups.acks, topics: [this.topics.results] });
    return new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  }

  async close(): Promise<void> {
    await this.ingress?.stop().catch(() => undefined);
    for (const member of [...this.fulfillment, ...this.acks]) await member.stop().catch(() => undefined);
    await this.sim.close();
    await this.admin.disconnect();
    process.off('uncaughtException', this.onEscape);
    process.off('unhandledRejection', this.onEscape);
  }

  private stageDeps(service: string, n: number) {
    return {
      logger: this.logger.child({ service: `${service}#${n + 1}` }),
      onFatal: (error: unknown) => void this.deaths.push(`${service}: fatal: ${error instanceof Error ? error.message : String(error)}`),
    };
  }
}

async function untilReady(member: StageHandle, what: string): Promise<void> {
  await waitFor(() => member.ready(), { timeoutMs: 60_000, intervalMs: 100, what });
}

/** A logger that collects every fatal line into `deaths`; with FAULTS_LOG set, warnings and worse also go to that file. */
function deathWatch(deaths: string[]): Logger {
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (process.env.FAULTS_LOG) appendFileSync(process.env.FAULTS_LOG, chunk);
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        const entry = JSON.parse(line) as { level: number; service?: string; msg?: string; err?: { message?: string } };
        if (entry.level >= 60) deaths.push(`${entry.service}: ${entry.msg}: ${entry.err?.message ?? ''}`);
      }
      done();
    },
  });
  return pino({ level: process.env.FAULTS_LOG ? 'warn' : 'fatal', base: { service: 'faults' } }, lines);
}
