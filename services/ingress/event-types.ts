/**
 * The canonical event type of a callback. Flows spell the same event `flow.execution`,
 * `flow_execution` or `flowExecution`; all of them become `flow_execution`. An unknown type is kept
 * (normalised the same way) rather than refused, and counted under the metric label `other`.
 * Pure: data in, data out.
 */
import type { Fields } from './callback-fields.js';

export const KNOWN_EVENT_TYPES = ['intent_fulfillment', 'flow_execution', 'external_action_trigger', 'webhook_endpoint'] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

const known = new Set<string>(KNOWN_EVENT_TYPES);

/** Words split at dots, dashes, underscores, white space and camelCase humps, lower case, joined by `_`. */
export function normaliseEventType(raw: string): string {
  const words = raw
    .replace(/(\p{Ll}|\p{N})(\p{Lu})/gu, '$1_$2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
  return words.length > 0 ? words.join('_') : 'other';
}

/**
 * The sent type, normalised; without one, what the body is: an NLU result when it carries an intent
 * or a confidence, a flow's event when it names a flow, else what Cognigy's Webhook Endpoint posts.
 */
export function eventTypeOf(fields: Pick<Fields, 'eventType' | 'intent' | 'confidence' | 'flow'>): string {
  if (fields.eventType !== null) return normaliseEventType(fields.eventType);
  if (fields.intent !== null || fields.confidence !== null) return 'intent_fulfillment';
  if (fields.flow !== null) return 'flow_execution';
  return 'webhook_endpoint';
}

/** A bounded metric label: the known types by name, everything else as `other`. */
export function eventTypeLabel(eventType: string): KnownEventType | 'other' {
  return known.has(eventType) ? (eventType as KnownEventType) : 'other';
}
