/**
 * Prometheus' own tool judges the rules and the config: `promtool check` (syntax, PromQL, lint) and
 * `promtool test rules` on deploy/prometheus/alerts.test.yml (each alert fires on the series it is
 * about). promtool comes from Debian's `prometheus` package; without it these tests are skipped,
 * except under CI=true, where .ci/run installs it and a missing promtool is a failure.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERT_TESTS_FILE, ALERTS_FILE, alertRules, PROMETHEUS_FILE, readText, root } from './observability-files.js';

const installed = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const required = process.env.CI === 'true';

function promtool(...args: string[]): { status: number | null; output: string } {
  if (!installed) throw new Error('promtool is not on PATH: install the Debian package prometheus (.ci/run does)');
  const run = spawnSync('promtool', args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe.skipIf(!installed && !required)('promtool', () => {
  it('accepts the alert rules, lint included', () => {
    const { status, output } = promtool('check', 'rules', '--lint=all', '--lint-fatal', ALERTS_FILE);
    expect(output).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(status, output).toBe(0);
  });

  it('accepts prometheus.yml and the rule files it loads', () => {
    const { status, output } = promtool('check', 'config', '--lint=all', '--lint-fatal', PROMETHEUS_FILE);
    expect(output).toContain('SUCCESS: 1 rule files found');
    expect(status, output).toBe(0);
  });

  it('fires each tested alert on the series its test gives, and only there', () => {
    const { status, output } = promtool('test', 'rules', ALERT_TESTS_FILE);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });
});

describe('the alert tests', () => {
  const tests = (parse(readText(ALERT_TESTS_FILE)) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests;
  const cases = tests.flatMap((t) => t.alert_rule_test ?? []);

  // promtool passes an expectation of no alerts for a name no rule has: a misspelt name proves nothing.
  it('name only alerts that exist', () => {
    const defined = new Set(alertRules().map((rule) => rule.alert));
    expect(cases.map((c) => c.alertname).filter((name) => !defined.has(name))).toEqual([]);
  });

  it('see at least two alerts fire', () => {
    const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
    expect(firing.size).toBeGreaterThanOrEqual(2);
  });
});
