/**
 * The compose profile `observability` checked against the files it mounts and the services it
 * watches: Prometheus scrapes each service by its compose name on the port that service serves
 * /metrics on, Grafana reads the provisioned data source and dashboard from where they are mounted.
 * Whether every metric they name exists is observability.int.test.ts's part, whether the rules
 * are valid promtool.test.ts's.
 */
import { existsSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allPanels, alertRules, DASHBOARD_FILE, PROMETHEUS_FILE, prometheusConfig, readDashboard, readText, root, scrapeJobs } from './observability-files.js';

interface Service {
  image?: string;
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
}
const services = (parse(readText('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> }).services;

/** The services of this repository that serve /metrics: all but the simulator and the one-shot CLI. */
const METRICS_SERVICES = ['ingress', 'fulfillment', 'ack-aggregator', 'session-writer'];

/** `${VAR:-default}` as compose resolves it with VAR unset. */
function resolve(value: string | number | boolean): string {
  return String(value).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '');
}

function envOf(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, resolve(v)]));
}

/** Where a service serves /metrics: its admin port when it has one (the ingress), else its one port. */
function metricsPort(name: string): number {
  const env = envOf(name);
  const admin = Object.keys(env).filter((k) => k.endsWith('_ADMIN_PORT'));
  const ports = admin.length > 0 ? admin : Object.keys(env).filter((k) => k.endsWith('_PORT'));
  expect(ports, `${name}: one port serves /metrics`).toHaveLength(1);
  return Number(env[ports[0] as string]);
}

/** Container ports other containers can reach: exposed or published. */
function offeredPorts(name: string): number[] {
  const service = services[name] ?? {};
  return [...(service.expose ?? []), ...(service.ports ?? []).map((p) => p.split(':').at(-1) as string)].map(Number);
}

/** The file or folder in the repository that a container path of a service is mounted from. */
function hostPathOf(name: string, containerPath: string): string | undefined {
  for (const volume of services[name]?.volumes ?? []) {
    const [source, target] = volume.split(':') as [string, string];
    if (!source.startsWith('./')) continue;
    const rest = posix.relative(target, containerPath);
    if (rest === '' || (!rest.startsWith('..') && !posix.isAbsolute(rest))) return join(source, rest);
  }
  return undefined;
}

function flag(name: string, flagName: string): string | undefined {
  const prefix = `--${flagName}=`;
  return services[name]?.command?.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

describe('the compose profile observability', () => {
  it('adds Prometheus and Grafana from pinned official images, and only they carry a profile', () => {
    expect(services.prometheus?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    const profiled = Object.entries(services).filter(([, s]) => s.profiles !== undefined);
    expect(Object.fromEntries(profiled.map(([name, s]) => [name, s.profiles]))).toEqual({ prometheus: ['observability'], grafana: ['observability'] });
  });

  it('mounts files of this repository that exist, read-only', () => {
    for (const name of ['prometheus', 'grafana']) {
      const binds = (services[name]?.volumes ?? []).filter((v) => v.startsWith('./'));
      expect(binds.length, name).toBeGreaterThan(0);
      for (const bind of binds) {
        const [source, , mode] = bind.split(':');
        expect(existsSync(join(root, source as string)), bind).toBe(true);
        expect(mode, bind).toBe('ro');
      }
    }
  });

  it('starts Prometheus on deploy/prometheus/prometheus.yml, whose rule files are mounted beside it', () => {
    const configPath = flag('prometheus', 'config.file') as string;
    expect(hostPathOf('prometheus', configPath)).toBe(PROMETHEUS_FILE);
    const rules = prometheusConfig().rule_files ?? [];
    expect(rules).toContain('alerts.yml');
    for (const rule of rules) {
      const inContainer = posix.resolve(posix.dirname(configPath), rule);
      const onHost = hostPathOf('prometheus', inContainer);
      expect(onHost, `${rule} is mounted`).toBeDefined();
      expect(existsSync(join(root, onHost as string)), `${onHost} exists`).toBe(true);
    }
  });

  it("scrapes each service that serves /metrics by its compose name, on its metrics port (the ingress's admin port)", () => {
    const jobs = scrapeJobs();
    expect(jobs.map((j) => j.job).sort()).toEqual([...METRICS_SERVICES].sort());
    for (const { job, targets, metricsPath } of jobs) {
      expect(metricsPath, job).toBe('/metrics');
      expect(targets, job).toEqual([{ host: job, port: metricsPort(job) }]);
      expect(offeredPorts(job), `${job} offers ${metricsPort(job)} to other containers`).toContain(metricsPort(job));
    }
    const ingress = envOf('ingress');
    expect(jobs.find((j) => j.job === 'ingress')?.targets[0]?.port).toBe(Number(ingress.INGRESS_ADMIN_PORT));
    expect(Number(ingress.INGRESS_ADMIN_PORT)).not.toBe(Number(ingress.INGRESS_PORT));
  });

  it('alerts on a missing target of exactly the jobs it scrapes', () => {
    const missing = alertRules().find((rule) => rule.alert === 'PipelineServiceMissing');
    const absentJobs = [...(missing?.expr ?? '').matchAll(/absent\(up\{job="([^"]+)"\}\)/g)].map((m) => m[1]);
    expect(absentJobs.sort()).toEqual(scrapeJobs().map((j) => j.job).sort());
  });

  it('gives every alert a duration, a severity, a summary, a description and a runbook hint', () => {
    for (const rule of alertRules()) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(Object.keys(rule.annotations ?? {}).sort(), rule.alert).toEqual(['description', 'runbook', 'summary']);
    }
  });

  it('points Grafana at the Prometheus of the profile, and every panel at that data source', () => {
    const provisioning = hostPathOf('grafana', '/etc/grafana/provisioning');
    expect(provisioning).toBe(join('deploy', 'grafana', 'provisioning'));
    const { datasources } = parse(readText(join(provisioning as string, 'datasources', 'prometheus.yml'))) as {
      datasources: { uid: string; type: string; url: string; isDefault?: boolean }[];
    };
    expect(datasources).toHaveLength(1);
    const source = datasources[0] as { uid: string; type: string; url: string };
    const url = new URL(source.url);
    expect(source.type).toBe('prometheus');
    expect(url.hostname).toBe('prometheus');
    const prometheusPort = Number(new URL(`http://${flag('prometheus', 'web.listen-address') ?? '0.0.0.0:9090'}`).port);
    expect(Number(url.port)).toBe(prometheusPort);
    expect(offeredPorts('prometheus')).toContain(prometheusPort);

    const dashboard = readDashboard();
    for (const panel of allPanels(dashboard).filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe(source.uid);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid ?? source.uid, `${panel.title} ${target.refId}`).toBe(source.uid);
    }
    for (const variable of dashboard.templating.list) expect(variable.datasource?.uid, variable.name).toBe(source.uid);
  });

  it('lists the dashboard from its mounted folder and opens it as the home page', () => {
    const { providers } = parse(readText('deploy/grafana/provisioning/dashboards/cognigy.yml')) as { providers: { type: string; options: { path: string } }[] };
    expect(providers.map((p) => p.type)).toEqual(['file']);
    const folder = hostPathOf('grafana', (providers[0] as { options: { path: string } }).options.path);
    expect(folder).toBe(join('deploy', 'grafana', 'dashboards'));
    expect(statSync(join(root, folder as string)).isDirectory()).toBe(true);
    expect(hostPathOf('grafana', envOf('grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string)).toBe(DASHBOARD_FILE);
  });

  it('lets anonymous visitors view, and takes the admin password from the environment with a default', () => {
    const env = envOf('grafana');
    expect([env.GF_AUTH_ANONYMOUS_ENABLED, env.GF_AUTH_ANONYMOUS_ORG_ROLE]).toEqual(['true', 'Viewer']);
    expect(String(services.grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD)).toMatch(/^\$\{\w+:-.+\}$/);
  });
});

describe('the dashboard', () => {
  const dashboard = readDashboard();
  const panels = allPanels(dashboard);

  it('has a stable uid and unique panel ids', () => {
    expect(dashboard.uid).toBe('cognigy-pipeline');
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays every panel out inside the 24-column grid, none on top of another', () => {
    const taken = new Set<string>();
    for (const { title, gridPos } of panels) {
      expect(gridPos.x + gridPos.w, title).toBeLessThanOrEqual(24);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect(taken.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          taken.add(`${x},${y}`);
        }
      }
    }
  });

  it('gives every panel at least one query', () => {
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.expr.trim(), `${panel.title} ${target.refId}`).not.toBe('');
    }
  });
});
