/**
 * One measured process for the kafkajs CPU comparison (see kafkajs-cpu.ts):
 *
 *   tsx bench/kafkajs-cpu-worker.ts <kafkajs-package> idle   <brokers> <topic> <idle-ms>
 *   tsx bench/kafkajs-cpu-worker.ts <kafkajs-package> loaded <brokers> <topic> <messages> <batch-size> <value-bytes>
 *
 * Both modes connect an idempotent producer and a consumer group subscribed to <topic>, wait for the
 * group join, then measure process CPU time (user + system) and event-loop utilisation over the
 * measured window only. The result is one JSON line on stdout.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type * as KafkaJS from 'kafkajs-2.2.4';

/** Releases are aliased installs of kafkajs, one per release: `kafkajs-<version>`. */
const RELEASE_PACKAGE = /^kafkajs-\d+\.\d+\.\d+$/;

export interface WorkerResult {
  release: string;
  version: string;
  mode: 'idle' | 'loaded';
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Event-loop utilisation over the window, 0..1. */
  elu: number;
  messages: number;
}

type KafkaModule = typeof KafkaJS;
type Producer = KafkaJS.Producer;
type Consumer = KafkaJS.Consumer;

const JOIN_TIMEOUT_MS = 60_000;
const CONSUME_TIMEOUT_MS = 120_000;

function loadRelease(name: string): { kafkajs: KafkaModule; version: string } {
  if (!RELEASE_PACKAGE.test(name)) throw new Error(`expected a kafkajs-<version> package, got ${name}`);
  const require = createRequire(import.meta.url);
  // kafkajs is CommonJS with computed exports; require gives the same object as the default import.
  const kafkajs = require(name) as KafkaModule;
  const { version } = require(`${name}/package.json`) as { version: string };
  return { kafkajs, version };
}

interface Clients {
  producer: Producer;
  consumer: Consumer;
  stop(): Promise<void>;
}

/** A connected idempotent producer and a consumer that has joined its group on `topic`. */
async function connectClients(
  kafkajs: KafkaModule,
  brokers: string[],
  topic: string,
  onBatch: (count: number) => void,
): Promise<Clients> {
  const { Kafka, Partitioners, logLevel } = kafkajs;
  const suffix = randomBytes(4).toString('hex');
  const kafka = new Kafka({
    clientId: `bench-kafkajs-cpu-${suffix}`,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000 },
    logLevel: logLevel.ERROR,
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  const consumer = kafka.consumer({ groupId: `bench.kafkajs-cpu.${suffix}`, allowAutoTopicCreation: false });

  const joined = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumer did not join its group within ${JOIN_TIMEOUT_MS} ms`)), JOIN_TIMEOUT_MS);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      clearTimeout(timer);
      resolve();
    });
  });

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => onBatch(batch.messages.length),
  });
  await joined;
  return {
    producer,
    consumer,
    stop: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

interface Window {
  end(messages: number): Omit<WorkerResult, 'release' | 'version' | 'mode'>;
}

function startWindow(): Window {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  return {
    end(messages) {
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      return {
        wallMs,
        cpuUserMs: used.user / 1_000,
        cpuSystemMs: used.system / 1_000,
        elu: performance.eventLoopUtilization(elu).utilization,
        messages,
      };
    },
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measureIdle(kafkajs: KafkaModule, brokers: string[], topic: string, idleMs: number) {
  let consumed = 0;
  const clients = await connectClients(kafkajs, brokers, topic, (count) => {
    consumed += count;
  });
  try {
    // The measured window is a fixed stretch of idleness, not a wait for an outcome.
    const window = startWindow();
    await delay(idleMs);
    const result = window.end(consumed);
    if (consumed !== 0) throw new Error(`idle topic ${topic} was not empty (${consumed} records)`);
    return result;
  } finally {
    await clients.stop();
  }
}

async function measureLoaded(
  kafkajs: KafkaModule,
  brokers: string[],
  topic: string,
  total: number,
  batchSize: number,
  valueBytes: number,
) {
  let consumed = 0;
  let allConsumed: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allConsumed = resolve;
  });
  const clients = await connectClients(kafkajs, brokers, topic, (count) => {
    consumed += count;
    if (consumed >= total) allConsumed();
  });
  try {
    const value = randomBytes(valueBytes);
    const window = startWindow();
    for (let sent = 0; sent < total; sent += batchSize) {
      const messages = [];
      for (let i = sent; i < Math.min(total, sent + batchSize); i += 1) messages.push({ key: `k${i}`, value });
      await clients.producer.send({ topic, acks: -1, messages });
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`consumed ${consumed} of ${total} records within ${CONSUME_TIMEOUT_MS} ms`)),
        CONSUME_TIMEOUT_MS,
      );
    });
    await Promise.race([done, timedOut]).finally(() => clearTimeout(timer));
    return window.end(consumed);
  } finally {
    await clients.stop();
  }
}

function positiveInt(text: string | undefined, what: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${what} must be a positive integer, got ${text}`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const [releaseName, mode, brokerList, topic, ...rest] = argv;
  if (!releaseName || !brokerList || !topic || (mode !== 'idle' && mode !== 'loaded')) {
    throw new Error('usage: kafkajs-cpu-worker.ts <kafkajs-package> idle|loaded <brokers> <topic> ...');
  }
  const { kafkajs, version } = loadRelease(releaseName);
  const brokers = brokerList.split(',').map((b) => b.trim()).filter(Boolean);
  const measured =
    mode === 'idle'
      ? await measureIdle(kafkajs, brokers, topic, positiveInt(rest[0], 'idle-ms'))
      : await measureLoaded(
          kafkajs,
          brokers,
          topic,
          positiveInt(rest[0], 'messages'),
          positiveInt(rest[1], 'batch-size'),
          positiveInt(rest[2], 'value-bytes'),
        );
  const result: WorkerResult = { release: releaseName, version, mode, ...measured };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`kafkajs-cpu-worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
