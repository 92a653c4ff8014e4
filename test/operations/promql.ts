/**
 * The metric names a PromQL expression selects, found without a full parser: everything that
 * cannot be a metric name is removed (strings, label matchers, grouping label lists, ranges and
 * durations, numbers, dashboard variables), and of the identifiers left, those followed by `(`
 * (functions, aggregations) and the language's keywords are dropped.
 */

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/#.*$/gm, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    // Label lists: `by (a, b)`, `on (a)`, `group_left (a)`; `group_left` may also stand alone.
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    // Range and subquery brackets: `[5m]`, `[1h:30s]`, `[$__rate_interval]`.
    .replace(/\[[^\]]*\]/g, ' ')
    // Grafana variables, outside brackets too (`$__interval`, `${group}`).
    .replace(/\$\{?\w+\}?/g, ' ')
    // Durations (`offset 1h30m`) and numbers (`0.95`, `1e3`, `0x1f`).
    .replace(/(?<![\w:.])(?:\d+(?:ms|[smhdwy]))+(?![\w:])/g, ' ')
    .replace(/(?<![\w:.])(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(?![\w:])/gi, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const name = match[0];
    const after = bare.slice((match.index ?? 0) + name.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

/**
 * The metric names of a Grafana query: PromQL, or a template variable's `label_values(selector,
 * label)` / `label_values(label)`, whose second argument names a label, not a metric.
 */
export function grafanaQueryMetricNames(query: string): string[] {
  const labelValues = /^\s*label_values\(\s*(?:(.*),)?\s*[\w.]+\s*\)\s*$/s.exec(query);
  if (labelValues) return labelValues[1] === undefined ? [] : metricNames(labelValues[1]);
  return metricNames(query);
}
