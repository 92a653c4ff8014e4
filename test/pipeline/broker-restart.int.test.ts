import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKafka, type Admin } from '../../shared/kafka.js';
import { createLogger } from '../../shared/logging.js';
import { topicNames } from '../../shared/topics.js';
import { startLocalPipeline, type LocalPipeline } from '../../tools/cli/local-pipeline.js';
import { startKafkaBroker, type KafkaBroker } from '../../tools/infra/launcher.js';
import { postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { committedToEnd, lagReport } from '../support/offsets.js';
import { startTopicReader } from '../support/topic-reader.js';
import { uniqueName, waitFor } from '../support/wait.js';

/**
 * A broker crash under load, as a rolling upgrade or a lost machine causes it: the broker is
 * SIGKILLed while callbacks flow, stays down while the ingress refuses them, and comes back on the
 * same address with its data. Every service must ride it out in both delivery modes, and every
 * callback the ingress accepted must be acknowledged to Cognigy exactly once.
 */

const SECRET = 'broker-restart-secret';
/** Callbacks per second; each is its own request, answered whenever the ingress answers it. */
const RATE = 75;
/** 202s before the broker is killed, 503s while it is down, 202s after it is back. */
const ACCEPTED_BEFORE = 500;
const REFUSED_WHILE_DOWN = 150;
const ACCEPTED_AFTER = 300;

let broker: KafkaBroker;
let admin: Admin;

beforeAll(async () => {
  // A broker of its own: killing the shared one would break the other test files.
  broker = await startKafkaBroker();
  admin = createKafka({ brokers: [broker.brokers], clientId: 'broker-restart-offsets', retries: 10, logger: createLogger('broker-restart', 'silent') }).admin();
  await admin.connect();
  // A broker that has served groups before, as in production: the first group lookup on a fresh one
  // creates the offsets topic, and lookups fail until it is loaded.
  await waitFor(() => admin.describeGroups(['broker-restart-warm-up']).then(() => true), { timeoutMs: 60_000, intervalMs: 500, what: 'group coordinator' });
}, 180_000);

afterAll(async () => {
  await admin?.disconnect();
  await broker?.destroy();
});

/** Signed callbacks at a steady rate, each answer recorded; bounded by `stop()`. */
class Sender {
  readonly accepted = new Set<string>();
  readonly statuses = new Map<number, number>();
  readonly failures: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;

  constructor(private readonly url: string) {}

  start(): void {
    const startedAt = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - startedAt) * RATE) / 1_000);
      while (this.sent < due) this.send(this.sent++);
    }, 20);
  }

  count(status: number): number {
    return this.statuses.get(status) ?? 0;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private send(i: number): void {
    // A third below the confidence threshold (answered FALLBACK), the rest fulfilled downstream.
    const body = { eventType: 'intent_fulfillment', sessionId: `restart-session-${i % 600}`, intent: 'book_flight', confidence: i % 3 === 0 ? 0.42 : 0.94, seq: i };
    const request = postSigned(this.url, body, {}, SECRET).then(
      (answer) => {
        this.statuses.set(answer.status, this.count(answer.status) + 1);
        if (answer.status === 202) this.accepted.add(String(answer.json.eventId));
      },
      (error: unknown) => void this.failures.push(String(error)),
    );
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }
}

/**
 * What the services report as fatal (stage.ts logs it at fatal level before onFatal, whose default
 * exits the process) and any error that escaped them: a service dying of the restart fails the test.
 */
function watchForDeaths() {
  const fatal: string[] = [];
  const escaped: string[] = [];
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        const entry = JSON.parse(line) as { level: number; service?: string; msg?: string; err?: { message?: string } };
        if (entry.level >= 60) fatal.push(`${entry.service}: ${entry.msg}: ${entry.err?.message ?? ''}`);
      }
      done();
    },
  });
  const logger = pino({ level: 'fatal', base: { service: 'broker-restart' } }, lines);
  const onEscape = (error: unknown) => void escaped.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  const exit = vi.spyOn(process, 'exit').mockImplementation(((code?: number) => void escaped.push(`process.exit(${code})`)) as never);
  return {
    logger,
    fatal,
    escaped,
    release: () => {
      process.off('uncaughtException', onEscape);
      process.off('unhandledRejection', onEscape);
      exit.mockRestore();
    },
  };
}

/** Where the given event ids are on the topics: each record carrying one, with its position and headers. */
async function whereAre(eventIds: string[], topicList: string[]): Promise<string> {
  const reader = await startTopicReader(broker.brokers, topicList);
  try {
    const ends = await Promise.all(topicList.map(async (t) => (await admin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)));
    const total = ends.reduce((a, b) => a + b, 0);
    await waitFor(() => reader.records.length >= total, { timeoutMs: 20_000, what: 'the topics read' }).catch(() => undefined);
    return eventIds
      .map((id) => {
        const seen = reader.records.filter((r) => r.headers['event-id'] === id || r.key?.startsWith(id));
        return `${id.slice(0, 12)}: ${seen.map((r) => `${r.topic.split('.').slice(-2).join('.')}[${r.partition}]@${r.offset} ${JSON.stringify(r.headers)}`).join(' | ') || 'nowhere'}`;
      })
      .join(' ;; ');
  } finally {
    await reader.stop();
  }
}

/** The services whose /readyz does not answer 200. */
async function unready(pipeline: LocalPipeline): Promise<string[]> {
  const probes = { ingress: pipeline.ingress.adminUrl, fulfillment: pipeline.fulfillment.url, acks: pipeline.acks.url, sessions: pipeline.sessions?.url };
  const answers = await Promise.all(
    Object.entries(probes).map(async ([name, url]) => (url !== undefined && (await fetch(`${url}/readyz`)).status !== 200 ? [name] : [])),
  );
  return answers.flat();
}

async function waitUntilReady(pipeline: LocalPipeline, what: string, timeoutMs: number): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => (last = await unready(pipeline)).length === 0, { timeoutMs, intervalMs: 250, what }).catch((error: Error) => {
    throw new Error(`${error.message}; not ready: ${last.join(', ')}`);
  });
}

describe.each([
  { mode: 'at-least-once', exactlyOnce: false },
  { mode: 'exactly-once', exactlyOnce: true },
])('a broker SIGKILLed and restarted under load ($mode)', ({ exactlyOnce }) => {
  it('kills no service, answers only 202 or 503, and acknowledges every accepted callback exactly once', async () => {
    const name = uniqueName(exactlyOnce ? 'restart-eos' : 'restart-alo');
    const topics = topicNames(`${name}.`);
    const groups = { fulfillment: `${name}-fulfillment`, acks: `${name}-acks` };
    const deaths = watchForDeaths();
    let pipeline: LocalPipeline | undefined;
    let sender: Sender | undefined;
    try {
      pipeline = await startLocalPipeline({
        kafkaBrokers: broker.brokers,
        schemaRegistryUrl: testInfra().schemaRegistryUrl,
        logger: deaths.logger,
        env: {
          TOPIC_PREFIX: `${name}.`,
          EXACTLY_ONCE: String(exactlyOnce),
          FULFILLMENT_GROUP_ID: groups.fulfillment,
          ACK_GROUP_ID: groups.acks,
          SESSION_WRITER_GROUP_ID: `${name}-sessions`,
          COGNIGY_WEBHOOK_SECRETS: SECRET,
          INGRESS_PORT: '0',
          INGRESS_HOST: '127.0.0.1',
          FULFILLMENT_PORT: '0',
          ACK_AGGREGATOR_PORT: '0',
          SESSION_WRITER_PORT: '0',
          // One write path per partition in exactly-once mode: more partitions, more of them failing mid-outage.
          TOPIC_PARTITIONS: '12',
          FULFILLMENT_MAX_IN_FLIGHT: '400',
          // The members that did not leave before the crash hold the group's rebalance back until
          // their sessions expire: the shortest allowed keeps the test short.
          FULFILLMENT_SESSION_TIMEOUT_MS: '6000',
          ACK_SESSION_TIMEOUT_MS: '6000',
          SESSION_WRITER_SESSION_TIMEOUT_MS: '6000',
          INGRESS_PRODUCE_TIMEOUT_MS: '2000',
          INGRESS_RETRY_AFTER_S: '1',
          ACK_WINDOW_MS: '500',
          SESSION_WRITER_MAX_PER_5MIN: '1000000',
          LOG_LEVEL: 'fatal',
        },
      });
      const running = pipeline;
      // Downstream calls that take up to 3 s: records finish, and their writes fail, at any moment of
      // the outage, also while kafkajs is between stopping a consumer and restarting it.
      running.simulator.downstream.setFaults({ latencyMs: 20, latencyJitterMs: 3_000 });
      await waitUntilReady(running, 'every service ready', 60_000);
      const traffic = new Sender(running.ingress.url);
      sender = traffic;
      traffic.start();

      await waitFor(() => traffic.count(202) >= ACCEPTED_BEFORE, { timeoutMs: 30_000, intervalMs: 100, what: `${ACCEPTED_BEFORE} callbacks accepted` });
      await broker.kill();
      await waitFor(() => traffic.count(503) >= REFUSED_WHILE_DOWN, { timeoutMs: 30_000, intervalMs: 100, what: `${REFUSED_WHILE_DOWN} callbacks refused with the broker down` });
      const acceptedWhileDown = traffic.count(202);
      await broker.start();
      await waitFor(() => traffic.count(202) >= acceptedWhileDown + ACCEPTED_AFTER, {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: `${ACCEPTED_AFTER} callbacks accepted after the broker returned`,
      });
      await traffic.stop();
      expect(deaths.fatal, 'fatal errors').toEqual([]);
      expect(deaths.escaped, 'errors no service caught').toEqual([]);
      expect(traffic.failures, 'requests without an answer').toEqual([]);
      expect([...traffic.statuses.keys()].sort(), 'answers given').toEqual([202, 503]);

      const cognigy = running.simulator.cognigy;
      const unacknowledged = () => [...traffic.accepted].filter((id) => !cognigy.acknowledged.has(id));
      await waitFor(() => unacknowledged().length === 0, { timeoutMs: 60_000, intervalMs: 250, what: 'every accepted callback acknowledged' }).catch(async (error: Error) => {
        // Where the missing ones are held: the groups' uncommitted partitions and the stages' counts.
        const retries = Array.from({ length: 3 }, (_, i) => topics.retry(i + 1));
        const held = [
          `fulfillment lag: ${(await lagReport(admin, groups.fulfillment, [topics.callbacks, ...retries]).catch((e: unknown) => [String(e)])).join(', ') || 'none'}`,
          `aggregator lag: ${(await lagReport(admin, groups.acks, [topics.results]).catch((e: unknown) => [String(e)])).join(', ') || 'none'}`,
          `summary: ${JSON.stringify(await running.summary())}`,
          `not ready: ${(await unready(running)).join(', ') || 'none'}`,
          `found: ${await whereAre(unacknowledged().slice(0, 5), [topics.callbacks, ...retries, topics.results, topics.dlq, topics.fulfillmentDedup, topics.acksDedup])}`,
        ];
        throw new Error(
          `${error.message}: ${unacknowledged().length} of ${traffic.accepted.size} not acknowledged; fatal: ${deaths.fatal.join('; ')}; escaped: ${deaths.escaped.join('; ')}; ${held.join('; ')}`,
        );
      });
      // A repeat can still be on its way until fulfillment has committed every callback and the
      // aggregator every result (each commits only after passing a record on).
      await waitFor(() => committedToEnd(admin, groups.fulfillment, [topics.callbacks]), { timeoutMs: 30_000, intervalMs: 250, what: 'fulfillment to commit every callback' });
      await waitFor(() => committedToEnd(admin, groups.acks, [topics.results]), { timeoutMs: 30_000, intervalMs: 250, what: 'the aggregator to commit every result' });
      await waitUntilReady(running, 'every service ready again', 30_000);

      const twice = [...cognigy.acknowledged].filter(([, times]) => times > 1).map(([id]) => id);
      expect(twice, 'callbacks acknowledged more than once').toEqual([]);
      expect(deaths.fatal, 'fatal errors').toEqual([]);
      expect(deaths.escaped, 'errors no service caught').toEqual([]);
      console.log(
        `[broker-restart ${exactlyOnce ? 'exactly-once' : 'at-least-once'}] accepted ${traffic.accepted.size}, refused ${traffic.count(503)}, ` +
          `acknowledged ${cognigy.acknowledged.size} (each once)`,
      );
    } finally {
      await sender?.stop();
      await broker.start();
      await pipeline?.stop();
      deaths.release();
    }
  }, 150_000);
});
