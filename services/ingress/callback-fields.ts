/**
 * Which JSON paths of a callback body hold which field. Cognigy Flow authors choose their own
 * field names, so each field is looked up along an ordered list of paths (the first one present
 * wins) whose defaults cover the shapes the tutorials and Cognigy itself send; an operator whose
 * flows use other names overrides a list with CALLBACK_PATHS_<FIELD>. Pure: data in, data out.
 */
import { z } from 'zod';

const bounded = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const text = (max: number) => z.string({ error: 'expected a string' }).pipe(bounded(max));
/**
 * Ids and names arrive as numbers from some flows; a number is as sound an id as its text, as long as
 * it is exact: 123456789012345678901234567890 parses to 1.2345678901234568e+29, another id.
 */
const textOrNumber = (max: number) =>
  z
    .union([z.number(), z.string()], { error: 'expected a string' })
    .refine((id) => typeof id === 'string' || Number.isSafeInteger(id), 'expected a string (a number must be an integer below 2^53)')
    .transform(String)
    .pipe(bounded(max));

const structure = z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())], { error: 'expected an object or an array' });

/** Field name -> the type its value must have, once found. */
const FIELD_TYPES = {
  sessionId: text(256),
  eventType: text(128),
  intent: text(512),
  // "0.94" is read as 0.94; "high" is not a confidence.
  confidence: z
    .union([z.number(), z.string().regex(/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i).transform(Number)], {
      error: 'expected a number from 0 to 1',
    })
    .pipe(z.number({ error: 'must be between 0 and 1' }).min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1')),
  // Bounded only by the body limit: a long utterance is still a sound callback.
  text: z.string({ error: 'expected a string' }),
  userId: textOrNumber(256),
  flow: textOrNumber(512),
  actionName: text(512),
  entities: structure,
  variables: structure,
  correlationId: textOrNumber(256),
  timestamp: z.union([z.string().max(64, 'must be at most 64 characters'), z.number()], { error: 'expected an RFC 3339 string or epoch seconds or milliseconds' }),
};

export type FieldName = keyof typeof FIELD_TYPES;
export const FIELD_NAMES = Object.keys(FIELD_TYPES) as FieldName[];

/** The defaults: every shape in the README's table is read by these. */
export const DEFAULT_PATHS: Record<FieldName, readonly string[]> = {
  sessionId: ['sessionId'],
  eventType: ['eventType'],
  intent: ['intent', 'context.intent', 'input.intent', 'data.intent'],
  confidence: ['confidence', 'context.confidence', 'intentScore', 'input.intentScore', 'data.confidence', 'data.intentScore'],
  text: ['text', 'utterance', 'message', 'input.text', 'input', 'data.text'],
  userId: ['userId', 'context.userId', 'data.userId'],
  flow: ['flowName', 'flowId', 'context.flowName', 'context.flowId'],
  actionName: ['actionName', 'context.actionName', 'data.actionName'],
  entities: ['entities', 'slots', 'input.slots', 'context.entities', 'data.entities'],
  variables: ['variables', 'context.variables', 'data.variables'],
  correlationId: ['correlationId', 'context.correlationId', 'data.correlationId'],
  timestamp: ['timestamp', 'occurredAt', 'context.timestamp'],
};

type Snake<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? Uppercase<H> : `_${H}`}${Snake<T>}` : '';
export type PathsVariable = `CALLBACK_PATHS_${Snake<FieldName>}`;

/** `CALLBACK_PATHS_CONFIDENCE` for `confidence`, `CALLBACK_PATHS_USER_ID` for `userId`. */
export function pathsVariable(field: FieldName): PathsVariable {
  return `CALLBACK_PATHS_${field.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}` as PathsVariable;
}

/** A dotted path: segments of anything but dots and white space; a numeric segment indexes an array. */
const PATH = /^[^.\s,]+(?:\.[^.\s,]+)*$/;

/** Parses `context.confidence,intentScore`; returns a message for the one-line configuration error. */
export function parsePathList(textValue: string): { ok: true; paths: string[] } | { ok: false; error: string } {
  const paths = textValue.split(',').map((s) => s.trim());
  const bad = paths.find((p) => !PATH.test(p));
  if (bad !== undefined) {
    return { ok: false, error: `expected a comma list of dotted JSON paths such as context.confidence,intentScore, got "${bad}"` };
  }
  return { ok: true, paths };
}

interface CompiledPath {
  text: string;
  segments: string[];
  /** Another path of the same field goes through this one: a container found here is skipped, not refused. */
  container: boolean;
}

export type FieldPaths = Record<FieldName, readonly string[]>;

export interface Fields {
  sessionId: string;
  /** As sent; see event-types.ts for its canonical form. */
  eventType: string | null;
  intent: string | null;
  confidence: number | null;
  text: string | null;
  userId: string | null;
  flow: string | null;
  actionName: string | null;
  entities: unknown;
  variables: unknown;
  correlationId: string | null;
  timestamp: string | number | null;
}

export interface FieldIssue {
  path: string;
  message: string;
}

/** Fields whose value is itself an object or array; every other field holds a single value. */
const STRUCTURED_FIELDS = new Set<FieldName>(['entities', 'variables']);

function lookup(body: Record<string, unknown>, segments: string[]): unknown {
  let node: unknown = body;
  for (const segment of segments) {
    // Own properties only: a path such as `constructor` must not reach the prototype.
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** Reads every field of a parsed body along its paths; compiled once at start. */
export class FieldReader {
  private readonly compiled: [FieldName, CompiledPath[]][];

  constructor(paths: FieldPaths = DEFAULT_PATHS) {
    this.compiled = FIELD_NAMES.map((field) => {
      const list = paths[field];
      return [
        field,
        list.map((path) => ({
          text: path,
          segments: path.split('.'),
          container: !STRUCTURED_FIELDS.has(field) && list.some((other) => other.startsWith(path + '.')),
        })),
      ];
    });
  }

  /**
   * The first present (not null) value of each field, checked against the field's type. A value of
   * the wrong type is refused with the path it was found at; a missing sessionId is always named.
   */
  read(body: Record<string, unknown>): { ok: true; fields: Fields } | { ok: false; issues: FieldIssue[] } {
    const fields: Record<string, unknown> = {};
    const issues: FieldIssue[] = [];
    for (const [field, paths] of this.compiled) {
      fields[field] = null;
      let found = false;
      for (const path of paths) {
        const value = lookup(body, path.segments);
        if (value === undefined || value === null) continue;
        if (path.container && typeof value === 'object') continue;
        found = true;
        const parsed = FIELD_TYPES[field].safeParse(value);
        if (parsed.success) fields[field] = parsed.data;
        else issues.push({ path: path.text, message: parsed.error.issues[0]?.message ?? 'invalid' });
        break;
      }
      // Named first, whatever else is wrong: without it the callback cannot be keyed at all.
      if (!found && field === 'sessionId') issues.unshift({ path: paths[0]!.text, message: 'required' });
    }
    return issues.length > 0 ? { ok: false, issues } : { ok: true, fields: fields as unknown as Fields };
  }
}
