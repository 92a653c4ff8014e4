/** The conformance corpus in test/fixtures/callbacks: callbacks as flows send them, with what each must become. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CognigyCallback, Route } from '../../shared/contracts.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'callbacks');

interface FixtureFile {
  about: string;
  /** The body as a JSON value, sent as JSON.stringify gives it ... */
  body?: unknown;
  /** ... or the exact bytes, for what JSON values cannot express (duplicate keys, broken JSON). */
  raw?: string;
  /** An accepted callback: the fields its record must have, and its fulfillment route at the default threshold. */
  record?: Partial<CognigyCallback>;
  route?: Route;
  /** A refused one: the error and the paths named, in order. */
  refused?: { error: 'invalid_json' | 'invalid_payload'; paths: string[] };
}

export interface CallbackFixture extends FixtureFile {
  name: string;
  rawBody: Buffer;
}

export function callbackFixtures(): CallbackFixture[] {
  return readdirSync(DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const fixture = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as FixtureFile;
      const rawBody = Buffer.from(fixture.raw ?? JSON.stringify(fixture.body), 'utf8');
      return { ...fixture, name: file.replace(/\.json$/, ''), rawBody };
    });
}

export const acceptedFixtures = () => callbackFixtures().filter((f) => f.record !== undefined);
export const refusedFixtures = () => callbackFixtures().filter((f) => f.refused !== undefined);

/** A low-confidence intent callback: fulfillment answers it FALLBACK without a downstream call. */
export function lowConfidenceCallback(eventId: string, sessionId: string, receivedAt = new Date().toISOString()): CognigyCallback {
  const body = { eventId, sessionId, intent: 'order_status', confidence: 0.1 };
  return {
    eventId,
    correlationId: `corr-${eventId}`,
    sessionId,
    userId: null,
    eventType: 'intent_fulfillment',
    eventTypeRaw: null,
    intent: 'order_status',
    confidence: 0.1,
    text: null,
    flowName: null,
    actionName: null,
    entities: null,
    variables: null,
    occurredAt: null,
    receivedAt,
    rawBody: Buffer.from(JSON.stringify(body)),
  };
}
