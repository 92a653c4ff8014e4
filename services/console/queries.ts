/**
 * The API's inputs read into the operations' own types: data in, data out, each mistake a
 * BadInput naming the field at fault.
 */
import type { DlqFilter } from '../../shared/operations/dlq-filter.js';
import type { ReplayTargetSpec } from '../../shared/operations/replay-plan.js';
import { parseDateTime, parseDuration, parseInstant, UsageError } from '../../shared/operations/time-spec.js';
import type { DeadLetterQuery, RedriveRequest } from './views.js';

export class BadInput extends Error {
  override name = 'BadInput';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

const text = (value: unknown, field: string): string | undefined => {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new BadInput('expected text', field);
  return value;
};

const instant = (value: unknown, field: string, now: number): number | undefined => {
  const given = text(value, field);
  if (given === undefined) return undefined;
  try {
    return parseInstant(given, now);
  } catch (error) {
    throw new BadInput(error instanceof UsageError ? error.message : String(error), field);
  }
};

const count = (value: unknown, field: string, fallback: number, min: number, max: number): number => {
  const given = text(value, field);
  if (given === undefined) return fallback;
  const n = Number(given);
  if (!Number.isInteger(n) || n < min || n > max) throw new BadInput(`expected an integer from ${min} to ${max}`, field);
  return n;
};

/** The filter fields of the dead-letter list and of a redrive by filter. */
export function deadLetterFilter(query: Omit<DeadLetterQuery, 'page' | 'pageSize'> | Record<string, unknown>, now: number): DlqFilter {
  const q = query as Record<string, unknown>;
  const one = (field: string) => {
    const value = text(q[field], field);
    return value === undefined ? [] : [value];
  };
  const filter: DlqFilter = {
    reasons: one('reason'),
    errorClasses: one('errorClass'),
    originalTopics: one('originalTopic'),
    sessions: one('session'),
    since: instant(q.since, 'since', now),
    until: instant(q.until, 'until', now),
  };
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) {
    throw new BadInput('expected a time after since', 'until');
  }
  return filter;
}

export function deadLetterQuery(query: Record<string, unknown>, now: number): { filter: DlqFilter; page: number; pageSize: number } {
  return {
    filter: deadLetterFilter(query, now),
    page: count(query.page, 'page', 0, 0, 1_000_000),
    pageSize: count(query.pageSize, 'pageSize', 50, 1, 200),
  };
}

/** A redrive's scope: the selected dead letters, or those the filter matches. */
export function redriveScope(body: unknown, now: number): { filter: DlqFilter; execute: boolean } {
  if (typeof body !== 'object' || body === null) throw new BadInput('expected a JSON object', 'body');
  const request = body as Partial<Record<keyof RedriveRequest, unknown>>;
  if (typeof request.execute !== 'boolean') throw new BadInput('expected true or false', 'execute');
  if (request.selection !== undefined) {
    if (!Array.isArray(request.selection) || request.selection.length === 0 || request.selection.length > 1_000) {
      throw new BadInput('expected 1 to 1000 dead letters', 'selection');
    }
    const positions = request.selection.map((item: unknown) => {
      const { partition, offset } = (item ?? {}) as { partition?: unknown; offset?: unknown };
      if (!Number.isInteger(partition) || !Number.isInteger(offset)) throw new BadInput('expected {partition, offset} integers', 'selection');
      return `${partition as number}:${offset as number}`;
    });
    return { filter: { reasons: [], errorClasses: [], originalTopics: [], positions }, execute: request.execute };
  }
  if (typeof request.filter !== 'object' || request.filter === null) throw new BadInput('expected a selection or a filter', 'filter');
  return { filter: deadLetterFilter(request.filter as Record<string, unknown>, now), execute: request.execute };
}

/** `to`: earliest, a duration ago (1h) or an ISO time with a zone. */
export function replayTarget(to: unknown, now: number): ReplayTargetSpec {
  const given = text(to, 'to');
  if (given === undefined) throw new BadInput('expected earliest, a duration such as 1h or an ISO time', 'to');
  if (given === 'earliest') return { kind: 'earliest' };
  try {
    if (/^\d/.test(given) && !given.includes('T')) {
      const at = now - parseDuration(given);
      return { kind: 'datetime', at, label: `${given} ago (${new Date(at).toISOString()})` };
    }
    const at = parseDateTime(given);
    return { kind: 'datetime', at, label: new Date(at).toISOString() };
  } catch (error) {
    throw new BadInput(error instanceof UsageError ? error.message : String(error), 'to');
  }
}

/** The group and topic of a replay, one of those the console knows. */
export function replayScope(q: Record<string, unknown>, groups: { group: string; topics: string[] }[]): { group: string; topic: string } {
  const group = text(q.group, 'group');
  const known = groups.find((g) => g.group === group);
  if (known === undefined) throw new BadInput(`expected one of ${groups.map((g) => g.group).join(', ')}`, 'group');
  const topic = text(q.topic, 'topic');
  if (topic === undefined || !known.topics.includes(topic)) throw new BadInput(`expected one of ${known.topics.join(', ')}`, 'topic');
  return { group: known.group, topic };
}
