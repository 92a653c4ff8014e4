/** Readiness probes shared by every way of running the infrastructure (jars, containers, external). */
import { clusterAnswers, type KafkaSecurity } from '../../shared/kafka.js';
import type { RegistryAuth } from '../../shared/serde.js';
import { isPortOpen } from './process.js';

/** Ready means the broker serves metadata to a client with these credentials, not merely that its port is open. */
export async function kafkaAnswers(brokers: string, security: KafkaSecurity = {}): Promise<boolean> {
  const [host, port] = splitHostPort(brokers.split(',')[0] ?? '');
  if (!(await isPortOpen(port, host))) return false;
  return clusterAnswers(brokers.split(','), 'infra-readiness', security);
}

/** 200 on the subjects list means the registry's storage is initialised and it is serving requests. */
export async function registryAnswers(url: string, auth?: RegistryAuth): Promise<boolean> {
  const headers: Record<string, string> = auth ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
  const res = await fetch(`${url}/subjects`, { headers, signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) {
    throw new CredentialsRefused(`the schema registry answered ${res.status}: check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`);
  }
  return res.status === 200;
}

/** The service answers but does not let these credentials in: waiting will not change that. */
export class CredentialsRefused extends Error {
  override name = 'CredentialsRefused';
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) throw new Error(`expected host:port, got "${address}"`);
  return [address.slice(0, colon), port];
}
