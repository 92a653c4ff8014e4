/** Readiness probes shared by every way of running the infrastructure (jars, containers, external). */
import { clusterAnswers } from '../../shared/kafka.js';
import { isPortOpen } from './process.js';

/** Ready means the broker serves metadata, not merely that its port is open. */
export async function kafkaAnswers(brokers: string): Promise<boolean> {
  const [host, port] = splitHostPort(brokers.split(',')[0] ?? '');
  if (!(await isPortOpen(port, host))) return false;
  return clusterAnswers(brokers.split(','), 'infra-readiness');
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
