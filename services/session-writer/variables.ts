import type { FulfillmentResult } from '../../shared/contracts.js';

/**
 * Which session variables a result becomes: SESSION_VARIABLES_MAP, comma-separated
 * `variable=source` pairs. A source is a result field (`intent`, `route`, `confidence`, ...), a
 * path into the downstream's answer (`response` for all of it, `response.text` for one field), or a
 * JSON literal (`true`, `false`, `null`, a number, a "quoted string"). Pure.
 */

export type VariableSource =
  | { kind: 'field'; field: keyof FulfillmentResult }
  | { kind: 'response'; path: string[] }
  | { kind: 'literal'; value: unknown };

export type VariableMap = ReadonlyArray<{ variable: string; source: VariableSource }>;

export class VariableMapError extends Error {
  override name = 'VariableMapError';
}

/** The result fields a mapping may name (every field of FulfillmentResult but the answer itself). */
const FIELDS: ReadonlySet<string> = new Set<keyof FulfillmentResult>([
  'eventId',
  'correlationId',
  'sessionId',
  'route',
  'ackStatus',
  'errorDirective',
  'intent',
  'confidence',
  'threshold',
  'downstreamStatus',
  'attempts',
  'processedAt',
  'latencyMs',
]);

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export function parseVariableMap(text: string): VariableMap {
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (pairs.length === 0) throw new VariableMapError('expected at least one variable=source pair');
  const seen = new Set<string>();
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new VariableMapError(`"${pair}" is not variable=source`);
    const variable = pair.slice(0, eq).trim();
    const source = pair.slice(eq + 1).trim();
    if (!VARIABLE_NAME.test(variable)) throw new VariableMapError(`"${variable}" is not a variable name (letters, digits, _ . -)`);
    if (seen.has(variable)) throw new VariableMapError(`"${variable}" is mapped twice`);
    seen.add(variable);
    return { variable, source: parseSource(source, variable) };
  });
}

function parseSource(source: string, variable: string): VariableSource {
  if (source === 'response' || source.startsWith('response.')) {
    const path = source.split('.').slice(1);
    if (path.some((p) => p === '')) throw new VariableMapError(`"${source}" (for ${variable}) has an empty path segment`);
    return { kind: 'response', path };
  }
  if (FIELDS.has(source)) return { kind: 'field', field: source as keyof FulfillmentResult };
  try {
    return { kind: 'literal', value: JSON.parse(source) as unknown };
  } catch {
    throw new VariableMapError(
      `"${source}" (for ${variable}) is neither a result field (${[...FIELDS].join(', ')}), response[.path], nor a JSON literal`,
    );
  }
}

/**
 * The variables of one result. A field that is null stays null; an answer that is missing or not
 * JSON leaves its variables null, as does a path the answer does not have.
 */
export function variablesOf(result: FulfillmentResult, map: VariableMap): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  let answer: unknown;
  let parsed = false;
  for (const { variable, source } of map) {
    if (source.kind === 'literal') variables[variable] = source.value;
    else if (source.kind === 'field') variables[variable] = result[source.field] ?? null;
    else {
      if (!parsed) {
        answer = parseAnswer(result.response);
        parsed = true;
      }
      variables[variable] = dig(answer, source.path);
    }
  }
  return variables;
}

function parseAnswer(response: string | null | undefined): unknown {
  if (response === null || response === undefined) return null;
  try {
    return JSON.parse(response) as unknown;
  } catch {
    return null;
  }
}

function dig(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, key)) return null;
    at = (at as Record<string, unknown>)[key];
  }
  return at ?? null;
}
