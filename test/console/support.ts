import { createLogger } from '../../shared/logging.js';
import { startLocalPipeline, type LocalPipeline } from '../../tools/cli/local-pipeline.js';
import { postSigned } from '../ingress/support.js';
import { testInfra } from '../support/infra-env.js';
import { uniqueName } from '../support/wait.js';

export const CONSOLE_SECRET = 'console-webhook-secret';
export const CONSOLE_TOKEN = 'console-test-token-0123456789';

export interface ConsoleWorld {
  pipeline: LocalPipeline;
  /** The console's base URL. */
  url: string;
  groups: { fulfillment: string; acks: string; sessions: string; redrive: string };
  prefix: string;
}

/** The local pipeline with its console, on a topic prefix and groups of its own. */
export async function startConsoleWorld(base: string, env: Record<string, string> = {}): Promise<ConsoleWorld> {
  const infra = testInfra();
  const name = uniqueName(base);
  const groups = { fulfillment: `${name}-fulfillment`, acks: `${name}-acks`, sessions: `${name}-sessions`, redrive: `${name}-redrive` };
  const pipeline = await startLocalPipeline({
    kafkaBrokers: infra.kafkaBrokers,
    schemaRegistryUrl: infra.schemaRegistryUrl,
    logger: createLogger('console-test', 'error'),
    console: true,
    env: {
      TOPIC_PREFIX: `${name}.`,
      FULFILLMENT_GROUP_ID: groups.fulfillment,
      ACK_GROUP_ID: groups.acks,
      SESSION_WRITER_GROUP_ID: groups.sessions,
      DLQ_REDRIVE_GROUP_ID: groups.redrive,
      COGNIGY_WEBHOOK_SECRETS: CONSOLE_SECRET,
      INGRESS_PORT: '0',
      INGRESS_HOST: '127.0.0.1',
      FULFILLMENT_PORT: '0',
      ACK_AGGREGATOR_PORT: '0',
      SESSION_WRITER_PORT: '0',
      SESSION_WRITER_MAX_PER_5MIN: '1000000',
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '500',
      ACK_WINDOW_MS: '300',
      CONSOLE_TOKEN,
      CONSOLE_ALLOW_ACTIONS: 'true',
      CONSOLE_REFRESH_MS: '500',
      LOG_LEVEL: 'error',
      ...env,
    },
  });
  return { pipeline, url: pipeline.console!.handle.url, groups, prefix: `${name}.` };
}

/** A callback the fulfillment sends downstream (confidence above the threshold). */
export function confidentCallback(sessionId: string, seq: number): Record<string, unknown> {
  return { eventType: 'intent_fulfillment', sessionId, intent: 'book_flight', confidence: 0.94, seq };
}

/** Posts a signed callback and returns its event id; fails unless the ingress accepted it. */
export async function send(world: ConsoleWorld, body: Record<string, unknown>): Promise<string> {
  const answer = await postSigned(world.pipeline.ingress.url, body, {}, CONSOLE_SECRET);
  if (answer.status !== 202) throw new Error(`the ingress answered ${answer.status}: ${JSON.stringify(answer.json)}`);
  return String(answer.json.eventId);
}

/** GET or POST on the console's API with the token. */
export async function consoleApi<T = Record<string, unknown>>(world: ConsoleWorld, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${world.url}/api${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${CONSOLE_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}
