/**
 * The Docker path: `apache/kafka` (KRaft) and `confluentinc/cp-schema-registry` via testcontainers.
 * testcontainers is imported lazily: it is heavy, and machines without Docker never need it.
 */
import type { StartedNetwork, StartedTestContainer } from 'testcontainers';
import { freePort, type Log, waitFor } from './process.js';
import { localKafkaVersion } from './kafka-jars.js';
import { kafkaAnswers } from './readiness.js';

// The same release as the jars path (tools/infra/pom.xml); LOCAL_KAFKA_VERSION picks another.
const KAFKA_IMAGE = `apache/kafka:${localKafkaVersion()}`;
const SCHEMA_REGISTRY_IMAGE = 'confluentinc/cp-schema-registry:7.9.0';
const READY_TIMEOUT_MS = 180_000; // includes a first image pull

/** True if a Docker (or compatible) engine answers. Never hangs: gives up after `timeoutMs`. */
export async function dockerAvailable(timeoutMs = 5000): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
    });
    try {
      await Promise.race([getContainerRuntimeClient(), timeout]);
      return true;
    } finally {
      clearTimeout(timer);
    }
  } catch {
    return false;
  }
}

export interface ContainerInfra {
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  containerIds: string[];
  networkIds: string[];
  stop(): Promise<void>;
}

/**
 * Kafka plus a Confluent Schema Registry on a private network. `detached` disables testcontainers'
 * reaper (Ryuk), which would otherwise remove the containers as soon as this process exits.
 */
export async function startContainerInfra(opts: { log?: Log; detached?: boolean } = {}): Promise<ContainerInfra> {
  if (opts.detached) process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  const { GenericContainer, Network, Wait } = await import('testcontainers');
  const network = await new Network().start();
  const started: StartedTestContainer[] = [];
  const stop = async (): Promise<void> => {
    for (const container of started.reverse()) await container.stop().catch(() => {});
    await network.stop().catch(() => {});
  };
  try {
    const kafka = await startKafkaContainer(network, opts.log);
    started.push(kafka.container);
    opts.log?.(`starting ${SCHEMA_REGISTRY_IMAGE}`);
    const registry = await new GenericContainer(SCHEMA_REGISTRY_IMAGE)
      .withNetwork(network)
      .withExposedPorts(8081)
      .withEnvironment({
        SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
        SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
        SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:9093',
      })
      .withWaitStrategy(Wait.forHttp('/subjects', 8081).forStatusCode(200))
      .withStartupTimeout(READY_TIMEOUT_MS)
      .start();
    started.push(registry);
    return {
      kafkaBrokers: kafka.brokers,
      schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
      containerIds: started.map((c) => c.getId()),
      networkIds: [network.getId()],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A broker container that can be stopped and started again with the same address and data. */
export async function startContainerKafkaBroker(opts: { log?: Log } = {}): Promise<{
  brokers: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}> {
  const { getContainerRuntimeClient, Network } = await import('testcontainers');
  const network = await new Network().start();
  const { container, brokers } = await startKafkaContainer(network, opts.log);
  const client = await getContainerRuntimeClient();
  // `docker stop` / `docker start` (not testcontainers' stop, which removes the container) keep the
  // container's filesystem, i.e. the log dirs; the fixed host port keeps the advertised address valid.
  const handle = client.container.getById(container.getId());
  return {
    brokers,
    stop: () => client.container.stop(handle, { timeout: 15 }),
    // `docker kill` sends SIGKILL to the broker (PID 1 of the container); `wait` returns once it is down.
    kill: async () => {
      await handle.kill({ signal: 'SIGKILL' });
      await handle.wait();
    },
    start: async () => {
      await client.container.start(handle);
      await waitForKafka(brokers);
    },
    destroy: async () => {
      await container.stop().catch(() => {});
      await network.stop().catch(() => {});
    },
  };
}

/** Removes containers left running by a detached `infra:up`. */
export async function removeContainers(containerIds: string[], networkIds: string[]): Promise<void> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  for (const id of containerIds) {
    const container = client.container.getById(id);
    await client.container.stop(container, { timeout: 15 }).catch(() => {});
    await client.container.remove(container, { removeVolumes: true }).catch(() => {});
  }
  for (const id of networkIds) await client.network.remove(client.network.getById(id)).catch(() => {});
}

async function startKafkaContainer(
  network: StartedNetwork,
  log?: Log,
): Promise<{ container: StartedTestContainer; brokers: string }> {
  const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host;
  // A fixed host port: the advertised listener must name the address clients use, and must stay
  // valid across a container restart (a random mapping would change on `docker start`).
  const port = await freePort();
  const brokers = `${host}:${port}`;
  log?.(`starting ${KAFKA_IMAGE} on ${brokers}`);
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9094',
      // PLAINTEXT for clients on the host, BROKER for containers on the network (the schema registry).
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://localhost:9094',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${brokers},BROKER://kafka:9093`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
      KAFKA_NUM_PARTITIONS: '6',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '10',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withStartupTimeout(READY_TIMEOUT_MS)
    .start();
  await waitForKafka(brokers);
  return { container, brokers };
}

function waitForKafka(brokers: string): Promise<void> {
  return waitFor(() => kafkaAnswers(brokers), { what: `Kafka container on ${brokers}`, timeoutMs: READY_TIMEOUT_MS });
}
