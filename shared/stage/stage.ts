import express from 'express';
import { RetriableError } from '../errors.js';
import { listen, mountOperationalRoutes } from '../http.js';
import { clientSettings, connectAdmin, type ClientConfig } from '../client-settings.js';
import { createIdempotentProducer, createKafka, ensureTopics, type Admin, type Consumer, type EachBatchPayload, type KafkaClient, type Producer } from '../kafka.js';
import { createLogger, type Logger } from '../logging.js';
import { createMetricsRegistry, trackConsumerLag, type Registry } from '../metrics.js';
import { createRegistry, type SchemaRegistryClient } from '../serde.js';
import { topicCatalog, topicSettingsFromEnv, type TopicCatalogEnv, type TopicRole } from '../topic-catalog.js';
import { topicNames, type TopicNames } from '../topics.js';
import { deadLetterNotifier, type DeadLetterNotifier, type DeadLetterNotifyConfig } from './dead-letter-notifier.js';

/** The settings every consumer stage reads (commonEnv, the topic catalogue, dead-letter notifications). */
export interface StageConfig extends ClientConfig, TopicCatalogEnv, DeadLetterNotifyConfig {
  SHUTDOWN_TIMEOUT_MS: number;
  LOG_LEVEL: string;
}

export interface StageSettings {
  /** The service name: logger, metrics label, default Kafka client id. */
  name: string;
  config: StageConfig;
  groupId: string;
  /** The topics the group reads. */
  inputs: (topics: TopicNames) => string[];
  /** The catalogue topics this stage creates at start if missing. */
  creates: TopicRole[];
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  port: number;
  host: string;
}

/** What one start of a service is given: the same for every stage. */
export interface StageDeps {
  logger?: Logger;
  /**
   * A crash the consumer does not recover from. The default stops the stage and exits non-zero,
   * so a supervisor restarts the process; tests pass their own.
   */
  onFatal?: (error: unknown) => void;
}

/**
 * The group's consumer as the domain drives it: kafkajs's, and whether it is in its group now.
 * kafkajs restarts a consumer that crashed on a retriable error (a broker gone, say) by itself: it
 * drops the consumer's group, then builds a new one after a delay. In between, pause, resume and
 * seek throw ("Consumer group was not initialized"), and the new group keeps none of the old one's
 * pauses or seeks: it fetches from the committed offsets, unpaused, after its GROUP_JOIN
 * (StageParts.onAssignment), where the domain applies its pauses again. commitOffsets here fails
 * with ConsumerNotInGroup meanwhile, rather than reach kafkajs, which would throw or, while the new
 * group joins, answer without committing.
 */
export interface StageConsumer extends Consumer {
  /** Pause, resume, seek and commitOffsets reach the group: it was joined and kafkajs has not dropped it since. */
  inGroup(): boolean;
}

/** A commit while kafkajs restarts the consumer, or one it may have dropped: tried again later (commits are cumulative). */
export class ConsumerNotInGroup extends RetriableError {}

/** The clients and handles a stage's domain is built from. */
export interface StageKit {
  kafka: KafkaClient;
  admin: Admin;
  consumer: StageConsumer;
  schemaRegistry: SchemaRegistryClient;
  metrics: Registry;
  logger: Logger;
  topics: TopicNames;
  inputs: string[];
  /**
   * The stage consumer's session timing, for the stage's other consumers (the dedup reader): a member
   * lost in a broker restart holds its group's next rebalance back until its session expires.
   */
  membership: { sessionTimeoutMs: number; heartbeatIntervalMs: number };
  /** A connected idempotent producer; readiness follows its connection, and the stage disconnects it at stop. */
  idempotentProducer(): Promise<Producer>;
  /**
   * The domain cannot go on (refused credentials, say): logged once at fatal level with `message`,
   * then handled like a consumer crash without restart (liveness fails, deps.onFatal, by default
   * stop and exit 1). Nothing uncommitted is lost: the next start reads it again.
   */
  fatal(error: unknown, message: string): void;
  /**
   * Dead-letter notifications (DLQ_NOTIFY_URL; a no-op without it): give it the records a write put
   * on the DLQ once that write is durable. The stage sends what is queued at stop, within its budget.
   */
  deadLetters: DeadLetterNotifier;
}

/** The domain side of a stage. */
export interface StageParts {
  eachBatch: (payload: EachBatchPayload) => Promise<void>;
  /** false: the domain resolves offsets itself (records it has not taken are fetched again). */
  eachBatchAutoResolve?: boolean;
  /** A rebalance began: what was delivered before will be delivered again from the last commit. */
  onRebalancing?(): void;
  /** The group was joined with this assignment. */
  onAssignment?(assignment: Record<string, number[]>): void;
  /** Readiness beyond the group and the producers (a domain dependency). */
  ready?(): boolean;
  /** Stop taking records, finish or give back what was taken, commit; within `budgetMs`. */
  drain(budgetMs: number): Promise<void>;
  /** After the consumer left the group: close what the domain opened. */
  close?(): Promise<void>;
  /** Extra fields on the start log line. */
  describe?: Record<string, unknown>;
}

export interface StageHandle {
  url: string;
  port: number;
  /** The Prometheus registry served on /metrics. */
  metrics: Registry;
  /** In the group, producers connected, not stopping, not crashed. */
  ready(): boolean;
  /** Consuming or able to resume; false once the consumer crashed for good (then /healthz answers 503). */
  live(): boolean;
  /** Graceful stop: drain, commit, leave the group, disconnect, close the HTTP side. */
  stop(): Promise<void>;
}

/**
 * The consumer's place in its group, from its kafkajs events. `joining`: run, not yet in the group;
 * `left`: kafkajs dropped the group (STOP), to restart the consumer after a crash or because the
 * stage stops; `crashed`: kafkajs gave up on it, or the domain did (the stage stops for good).
 */
type ConsumerPhase = 'joining' | 'joined' | 'rebalancing' | 'left' | 'crashed';

/**
 * What a consumer crash leads to. kafkajs restarts the consumer itself after a retriable error. It
 * counts a group coordinator it could not find as final, but a broker that is starting, or loading
 * its group state after a restart, answers just that for a while: the stage starts that consumer
 * again itself. Anything else kafkajs gives up on stops the stage.
 */
export function crashAction(error: unknown, kafkajsRestarts: boolean): 'kafkajs restarts' | 'start again' | 'give up' {
  if (kafkajsRestarts) return 'kafkajs restarts';
  return error instanceof Error && error.name === 'KafkaJSGroupCoordinatorNotFound' ? 'start again' : 'give up';
}

/** Before a consumer that found no group coordinator is started again. */
export const COORDINATOR_WAIT_MS = 2_000;

/** Time kept back from SHUTDOWN_TIMEOUT_MS for leaving the group and disconnecting after the drain. */
const STOP_RESERVE_MS = 3_000;
/** Time the dead-letter notifier always gets at stop, taken from the reserve when the drain used its budget. */
const NOTIFY_FLOOR_MS = 1_000;

/**
 * Starts a consumer stage: Kafka clients, the topics it owns, the consumer group, crash policy,
 * readiness and liveness, lag metrics, the operational HTTP side and the stop order. The domain
 * (`build`) gets the clients and returns how it handles batches and how it drains.
 */
export async function startStage(settings: StageSettings, deps: StageDeps, build: (kit: StageKit) => Promise<StageParts>): Promise<StageHandle> {
  const { config, name, groupId } = settings;
  const logger = deps.logger ?? createLogger(name, config.LOG_LEVEL);
  const topics = topicNames(config.TOPIC_PREFIX);
  const inputs = settings.inputs(topics);
  const clients = clientSettings(config, `cognigy-${name}`);
  const kafka = createKafka({ ...clients.kafka, logger });
  const admin = kafka.admin();
  await connectAdmin(admin, clients.kafka);
  const roles = new Set(settings.creates);
  // Topics as the shared catalogue describes them (partitions, replication, retention), whoever creates them first.
  await ensureTopics(admin, topicCatalog(topicSettingsFromEnv(config)).filter((t) => roles.has(t.role)));

  const metrics = createMetricsRegistry(name);
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    // Short fetch waits: a partition resumed after a pause is fetched again within this time.
    maxWaitTimeInMs: 250,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  const producers: { producer: Producer; connected: boolean }[] = [];
  let phase: ConsumerPhase = 'joining';
  /** Counts the times the consumer left its group: a commit answered after one may not have been made. */
  let departures = 0;
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let startAgain: NodeJS.Timeout | undefined;
  /** Set once started: a crash during the start itself (a domain client failing in `build`) has nothing to stop yet. */
  const started: { handle?: StageHandle } = {};
  const inGroup = () => phase === 'joined' || phase === 'rebalancing';
  const leave = (to: 'left' | 'crashed') => {
    if (phase === 'crashed') return;
    phase = to;
    departures += 1;
  };
  const giveUp = (error: unknown, message: string) => {
    if (phase === 'crashed') return;
    if (stopping) {
      // A client crashing while the stage closes it (kafkajs disconnecting a consumer it is
      // restarting, say) changes nothing: the stage is on its way out, and whoever stops it decides how.
      logger.warn({ err: error }, `${message} (while the stage stops)`);
      return;
    }
    leave('crashed');
    logger.fatal({ err: error }, message);
    (deps.onFatal ?? (() => void (started.handle?.stop() ?? Promise.resolve()).finally(() => process.exit(1))))(error);
  };
  const groupConsumer: StageConsumer = {
    ...consumer,
    inGroup,
    commitOffsets: async (offsets) => {
      if (!inGroup()) throw new ConsumerNotInGroup(`the consumer is not in its group (${phase}); the commit waits for it`);
      const before = departures;
      await consumer.commitOffsets(offsets);
      // kafkajs answers a commit it was retrying when its consumer stopped without sending it.
      if (departures !== before) throw new ConsumerNotInGroup('the consumer left its group while committing; the commit is made again');
    },
  };
  const deadLetters = deadLetterNotifier(config, { service: name, dlqTopic: topics.dlq }, { logger, metrics });
  const kit: StageKit = {
    kafka,
    admin,
    consumer: groupConsumer,
    schemaRegistry: createRegistry(clients.registry.url, clients.registry.auth),
    metrics,
    logger,
    topics,
    inputs,
    membership: { sessionTimeoutMs: settings.sessionTimeoutMs, heartbeatIntervalMs: settings.heartbeatIntervalMs },
    idempotentProducer: async () => {
      const entry = { producer: createIdempotentProducer(kafka), connected: false };
      entry.producer.on(entry.producer.events.CONNECT, () => (entry.connected = true));
      entry.producer.on(entry.producer.events.DISCONNECT, () => (entry.connected = false));
      producers.push(entry);
      await entry.producer.connect();
      return entry.producer;
    },
    deadLetters,
    fatal: giveUp,
  };
  const parts = await build(kit);

  // kafkajs emits these synchronously from the consumer's own code: GROUP_JOIN before the new
  // group's first fetch, STOP right after it dropped the group. Listeners run in that order.
  consumer.on(consumer.events.REBALANCING, () => {
    if (phase === 'joined') phase = 'rebalancing';
    parts.onRebalancing?.();
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    if (phase === 'crashed') return;
    phase = 'joined';
    parts.onAssignment?.(event.payload.memberAssignment);
    logger.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
  });
  consumer.on(consumer.events.STOP, () => leave('left'));
  const run = () => consumer.run({ autoCommit: false, eachBatchAutoResolve: parts.eachBatchAutoResolve ?? true, eachBatch: parts.eachBatch });
  consumer.on(consumer.events.CRASH, (event) => {
    leave('left');
    const { error, restart } = event.payload;
    if (stopping) {
      logger.warn({ err: error }, 'consumer crashed while the stage stops');
      return;
    }
    const action = crashAction(error, restart);
    if (action === 'kafkajs restarts') {
      logger.warn({ err: error }, 'consumer crashed; kafkajs restarts it');
    } else if (action === 'start again') {
      logger.warn({ err: error }, 'consumer crashed finding its group coordinator (a broker starting); starting it again');
      // kafkajs has disconnected it; run() connects again, with the same subscription.
      startAgain = setTimeout(() => void run().catch((runError: unknown) => giveUp(runError, 'consumer could not be started again; stopping')), COORDINATOR_WAIT_MS);
    } else {
      // kafkajs gives up on this consumer: a process that stays up would consume nothing while
      // looking healthy, so it stops and leaves the restart to its supervisor.
      giveUp(error, 'consumer crashed without restart; stopping');
    }
  });
  await consumer.connect();
  await consumer.subscribe({ topics: inputs, fromBeginning: true });
  await run();
  const lag = trackConsumerLag({ registry: metrics, admin, groupId, topics: inputs, logger });

  const live = () => phase !== 'crashed';
  const ready = () => phase === 'joined' && !stopping && producers.every((p) => p.connected) && (parts.ready?.() ?? true);
  const app = express();
  app.disable('x-powered-by');
  mountOperationalRoutes(app, { registry: metrics, ready, live });
  const server = await listen(app, settings.port, settings.host);
  logger.info({ port: server.port, groupId, inputs, ...parts.describe }, `${name} running`);

  const handle: StageHandle = {
    url: server.url,
    port: server.port,
    metrics,
    ready,
    live,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        clearTimeout(startAgain);
        const startedAt = Date.now();
        const budgetMs = Math.max(500, config.SHUTDOWN_TIMEOUT_MS - STOP_RESERVE_MS);
        // A consumer out of its group fetches nothing until it rejoins, and the domain takes nothing once draining.
        if (inGroup()) consumer.pause(inputs.map((topic) => ({ topic })));
        await parts.drain(budgetMs);
        // The drain wrote the last dead letters; their notifications go out while the clients close,
        // in what is left of the budget, and at least a moment of the reserve.
        const notified = deadLetters.close(Math.max(NOTIFY_FLOOR_MS, budgetMs - (Date.now() - startedAt)));
        lag.stop();
        await consumer.disconnect();
        await parts.close?.();
        await Promise.all(producers.map(({ producer }) => producer.disconnect()));
        await admin.disconnect();
        await notified;
        await server.close();
        logger.info(`${name} stopped`);
      })()),
  };
  started.handle = handle;
  return handle;
}
