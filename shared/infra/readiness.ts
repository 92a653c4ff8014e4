/** Readiness probes shared by every way of running the infrastructure (jars, containers, external). */
import { Kafka, logLevel } from 'kafkajs';
import { isPortOpen } from './process.js';

/** Ready means the broker serves metadata, not merely that its port is open. */
export async function kafkaAnswers(brokers: string): Promise<boolean> {
  const [host, port] = splitHostPort(brokers.split(',')[0] ?? '');
  if (!(await isPortOpen(port, host))) return false;
  const admin = new Kafka({
    clientId: 'infra-readiness',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.listTopics();
    return cluster.brokers.length > 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** 200 on the subjects list means the registry's storage is initialised and it is serving requests. */
export async function registryAnswers(url: string): Promise<boolean> {
  const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.status === 200;
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) throw new Error(`expected host:port, got "${address}"`);
  return [address.slice(0, colon), port];
}
