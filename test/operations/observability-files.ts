/** The dashboard, the alert rules and the scrape config under deploy/, read as the tests need them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { grafanaQueryMetricNames, metricNames } from './promql.js';

export const root = join(import.meta.dirname, '..', '..');
export const DASHBOARD_FILE = 'deploy/grafana/dashboards/cognigy-pipeline.json';
export const ALERTS_FILE = 'deploy/prometheus/alerts.yml';
export const ALERT_TESTS_FILE = 'deploy/prometheus/alerts.test.yml';
export const PROMETHEUS_FILE = 'deploy/prometheus/prometheus.yml';

/** A PromQL expression and where it is written, for messages. */
export interface Query {
  where: string;
  expr: string;
  names: string[];
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; datasource?: { uid: string }; query: string | { query: string } }[] };
}

export function readText(file: string): string {
  return readFileSync(join(root, file), 'utf8');
}

export function readDashboard(file = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readText(file)) as Dashboard;
}

/** Every panel, those inside collapsed rows included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export function dashboardQueries(dashboard = readDashboard()): Query[] {
  const panelQueries = allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr, names: metricNames(target.expr) })),
  );
  const variableQueries = dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const expr = typeof variable.query === 'string' ? variable.query : variable.query.query;
      return { where: `variable $${variable.name}`, expr, names: grafanaQueryMetricNames(expr) };
    });
  return [...panelQueries, ...variableQueries];
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(file = ALERTS_FILE): AlertRule[] {
  const { groups } = parse(readText(file)) as { groups: { name: string; rules: AlertRule[] }[] };
  return groups.flatMap((group) => group.rules);
}

export function alertQueries(file = ALERTS_FILE): Query[] {
  return alertRules(file).map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr, names: metricNames(rule.expr) }));
}

/** Metric name → the queries that use it. */
export function usesByName(queries: Query[]): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  for (const query of queries) for (const name of query.names) uses.set(name, [...(uses.get(name) ?? []), query.where]);
  return uses;
}

export interface ScrapeJob {
  job: string;
  /** The hosts and ports scraped: static targets, or DNS names with their port. */
  targets: { host: string; port: number }[];
  metricsPath: string;
}

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs?: { targets: string[] }[];
  dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
}

export interface PrometheusConfig {
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
}

export function prometheusConfig(file = PROMETHEUS_FILE): PrometheusConfig {
  return parse(readText(file)) as PrometheusConfig;
}

export function scrapeJobs(config = prometheusConfig()): ScrapeJob[] {
  return config.scrape_configs.map((scrape) => ({
    job: scrape.job_name,
    metricsPath: scrape.metrics_path ?? '/metrics',
    targets: [
      ...(scrape.static_configs ?? []).flatMap((c) =>
        c.targets.map((target) => {
          const [host, port] = target.split(':');
          return { host: host as string, port: Number(port) };
        }),
      ),
      ...(scrape.dns_sd_configs ?? []).flatMap((c) => c.names.map((host) => ({ host, port: Number(c.port) }))),
    ],
  }));
}
