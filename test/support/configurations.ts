import type { z } from 'zod';
import { AckAggregatorEnv } from '../../services/ack-aggregator/config.js';
import { ConsoleEnv } from '../../services/console/config.js';
import { FulfillmentEnv } from '../../services/fulfillment/config.js';
import { IngressEnv } from '../../services/ingress/config.js';
import { SessionWriterEnv } from '../../services/session-writer/config.js';
import { ConfigError } from '../../shared/config.js';
import { CliEnv } from '../../tools/cli/config.js';

/** Every configuration that reads the shared settings, with the smallest environment each accepts. */
export const configurations: [string, z.ZodType, Record<string, string>][] = [
  ['ingress', IngressEnv, { COGNIGY_WEBHOOK_SECRETS: 's' }],
  ['fulfillment', FulfillmentEnv, {}],
  ['ack aggregator', AckAggregatorEnv, { COGNIGY_CLIENT_ID: 'id', COGNIGY_CLIENT_SECRET: 'secret' }],
  ['session writer', SessionWriterEnv, { SESSION_WRITER_ENABLED: 'true', COGNIGY_API_KEY: 'key' }],
  ['operations CLI', CliEnv, {}],
  ['console', ConsoleEnv, { CONSOLE_TOKEN: 'a-console-token-of-24-ch' }],
];

/** The one line a refused configuration stops the start with; fails the test if `load` does not refuse. */
export function configError(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
