/**
 * deploy/kubernetes cannot be applied here (no cluster), so every document kustomization.yaml lists
 * is checked the way the API server and KEDA would take it (kubernetes-models: the Kubernetes 1.33
 * OpenAPI schemas and KEDA's CRDs), and against the code it runs: each container's environment
 * against its service's zod schema, probes against the routes and ports the service serves, the
 * grace period against SHUTDOWN_TIMEOUT_MS, KEDA's group, topic and ceiling against the consumer
 * stage and the topic catalogue.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { z } from 'zod';
import { AckAggregatorEnv, stageSettingsOf as ackStage, type AckAggregatorConfig } from '../../services/ack-aggregator/config.js';
import { FulfillmentEnv, retryPolicyOf, stageSettingsOf as fulfillmentStage, type FulfillmentConfig } from '../../services/fulfillment/config.js';
import { createAdminApp } from '../../services/ingress/app.js';
import { IngressEnv, type IngressConfig } from '../../services/ingress/config.js';
import { SessionWriterEnv, stageSettingsOf as sessionWriterStage, type SessionWriterConfig } from '../../services/session-writer/config.js';
import { loadConfig } from '../../shared/config.js';
import { listen, mountOperationalRoutes } from '../../shared/http.js';
import { Registry } from '../../shared/metrics.js';
import type { StageSettings } from '../../shared/stage/stage.js';
import { topicNames } from '../../shared/topics.js';
import { containerEnv, describeManifest, manifestsDir, modelOf, readManifests, root, shapeKeys, unknownFieldProblems, type KubeObject } from './kubernetes-manifests.js';

interface Kustomization {
  resources: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  [field: string]: unknown;
}
const kustomization = parse(readFileSync(join(manifestsDir, 'kustomization.yaml'), 'utf8')) as Kustomization;
const SECRET_TEMPLATE = 'secret.example.yaml';
const rendered = kustomization.resources.flatMap(readManifests);
const secretTemplate = readManifests(SECRET_TEMPLATE);

const ofKind = <T>(kind: string): (T & KubeObject)[] => rendered.filter((m) => m.doc.kind === kind).map((m) => m.doc as T & KubeObject);
const deployments = ofKind<IDeployment>('Deployment');
const services = ofKind<IService>('Service');
const budgets = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');
const autoscalers = ofKind<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
const scaledObjects = ofKind<IScaledObject>('ScaledObject');
const triggerAuths = ofKind<ITriggerAuthentication>('TriggerAuthentication');

const configMaps = Object.fromEntries(ofKind<{ data?: Record<string, string> }>('ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
const secrets = Object.fromEntries(
  secretTemplate.map(({ doc }) => {
    const s = doc as KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
    const decoded = Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]);
    return [s.metadata.name, { ...Object.fromEntries(decoded), ...s.stringData }];
  }),
);

/** How each service of this repository is run and scaled. */
interface ServiceSpec {
  schema: z.ZodType;
  /** The consumer stage (group, inputs, HTTP port); the ingress has none. */
  stage?: (config: never) => StageSettings;
  /** The port of /healthz, /readyz and /metrics. */
  healthPort: (config: never) => number;
  scaling: 'cpu' | 'lag' | 'one replica';
  /** Lag a healthy replica keeps uncommitted anyway: KEDA's lagThreshold must be above it. */
  healthyLag?: (config: never) => number;
}
const SERVICES: Record<string, ServiceSpec> = {
  ingress: { schema: IngressEnv, healthPort: (c: IngressConfig) => c.INGRESS_ADMIN_PORT, scaling: 'cpu' },
  fulfillment: {
    schema: FulfillmentEnv,
    stage: (c: FulfillmentConfig) => fulfillmentStage(c, retryPolicyOf(c)),
    healthPort: (c: FulfillmentConfig) => c.FULFILLMENT_PORT,
    scaling: 'lag',
    healthyLag: (c: FulfillmentConfig) => c.FULFILLMENT_MAX_IN_FLIGHT,
  },
  'ack-aggregator': {
    schema: AckAggregatorEnv,
    stage: (c: AckAggregatorConfig) => ackStage(c),
    healthPort: (c: AckAggregatorConfig) => c.ACK_AGGREGATOR_PORT,
    scaling: 'lag',
    // The open window and the batches in submission keep their offsets until Cognigy accepted them.
    healthyLag: (c: AckAggregatorConfig) => c.ACK_MAX_BATCH * (c.ACK_MAX_CONCURRENT_BATCHES + 1),
  },
  'session-writer': {
    schema: SessionWriterEnv,
    stage: (c: SessionWriterConfig) => sessionWriterStage(c),
    healthPort: (c: SessionWriterConfig) => c.SESSION_WRITER_PORT,
    scaling: 'one replica',
  },
};
const serviceNames = Object.keys(SERVICES);

const nameOf = (o: { metadata?: { name?: string } }) => o.metadata?.name ?? '';
const podLabels = (d: IDeployment) => d.spec?.template.metadata?.labels ?? {};
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

function deploymentOf(service: string): IDeployment & KubeObject {
  const found = deployments.filter((d) => podLabels(d)['app.kubernetes.io/component'] === service);
  expect(found.map(nameOf), `Deployments of ${service}`).toHaveLength(1);
  return found[0] as IDeployment & KubeObject;
}
const containerOf = (service: string): IContainer => deploymentOf(service).spec?.template.spec?.containers[0] as IContainer;
const envOf = (service: string) => containerEnv(containerOf(service), configMaps, secrets);

// A CA file is read while the configuration loads: a stand-in PEM takes the mounted file's place.
const scratch = mkdtempSync(join(tmpdir(), 'kubernetes-test-'));
const standInCa = join(scratch, 'ca.crt');
writeFileSync(standInCa, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function configOf<T>(service: string, overrides: Record<string, string> = {}): T {
  const env = { ...envOf(service).env, ...overrides };
  if (env.KAFKA_SSL_CA_FILE) env.KAFKA_SSL_CA_FILE = standInCa;
  return loadConfig((SERVICES[service] as ServiceSpec).schema, env) as T;
}

/** A probe's or a Service's port as a number: named ports through the container's ports. */
function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

/** The HTTP side each service serves its probes and metrics from, as its code builds it. */
function operationalApp(service: string): Express {
  const registry = new Registry();
  if (service === 'ingress') return createAdminApp({ registry, ready: () => true });
  // The consumer stages' HTTP side (shared/stage/stage.ts): the operational routes alone.
  const app = express();
  mountOperationalRoutes(app, { registry, ready: () => true, live: () => true });
  return app;
}

function preStopSeconds(container: IContainer): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const [command, seconds] = preStop?.exec?.command ?? [];
  return command === 'sleep' ? Number(seconds) : 0;
}

describe('deploy/kubernetes', () => {
  it('lists every manifest of the folder, namespace-agnostic, with no transformer but the image', () => {
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'images', 'kind', 'resources']);
    const files = readdirSync(manifestsDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== SECRET_TEMPLATE);
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(rendered.filter((m) => m.doc.metadata?.namespace !== undefined).map(describeManifest)).toEqual([]);
    const ids = rendered.map((m) => `${m.doc.kind}/${nameOf(m.doc)}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([...rendered, ...secretTemplate].map((m) => [describeManifest(m), m] as const))('%s is valid against its Kubernetes or KEDA schema', async (_, m) => {
    const Model = await modelOf(m.doc);
    expect(Model, `${m.doc.apiVersion} ${m.doc.kind} is not a kind kubernetes-models knows`).toBeDefined();
    let verdict = 'valid';
    try {
      new (Model as NonNullable<typeof Model>)(m.doc).validate();
    } catch (error) {
      verdict = (error as Error).message;
    }
    expect(verdict).toBe('valid');
  });

  it('uses no field its kind does not have', () => {
    expect(unknownFieldProblems([...rendered, ...secretTemplate])).toEqual([]);
  });

  it('runs one Deployment per service of this repository from the one image, none for the simulator', () => {
    const components = deployments.map((d) => podLabels(d)['app.kubernetes.io/component']).sort();
    expect(components).toEqual([...serviceNames].sort());
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const images = (kustomization.images ?? []).map((i) => i.name);
    for (const service of serviceNames) {
      const container = containerOf(service);
      expect(deploymentOf(service).spec?.template.spec?.containers, service).toHaveLength(1);
      expect(container.name).toBe(service);
      expect(images, `${service}: kustomization.yaml sets its image`).toContain(container.image);
      const script = (container.command ?? []).find((a) => a.startsWith('dist/'));
      expect(script).toBe(`dist/services/${service}/main.js`);
      expect(existsSync(join(root, 'services', service, 'main.ts'))).toBe(true);
    }
    // The build stage compiles only the folders it copies.
    expect(dockerfile).toMatch(/^COPY services \.\/services$/m);
    for (const image of kustomization.images ?? []) expect(image.newTag, image.name).toMatch(/^(?!latest$)\S+$/);
  });

  it.each(serviceNames)('gives %s only variables its env schema reads, each from one place', (service) => {
    const { env, problems } = envOf(service);
    expect(problems).toEqual([]);
    const known = new Set(shapeKeys((SERVICES[service] as ServiceSpec).schema));
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
  });

  it.each(serviceNames)('starts %s with a configuration its schema accepts (ConfigMaps and the Secret template)', (service) => {
    expect(() => configOf(service)).not.toThrow();
    // With a private CA (Strimzi) named in the ConfigMap, the mounted file is read at start (here a stand-in PEM).
    expect(() => configOf(service, { KAFKA_SSL_CA_FILE: '/etc/cognigy-stream/kafka-ca/ca.crt' })).not.toThrow();
  });

  it.each(serviceNames)('mounts the Kafka CA Secret for %s where KAFKA_SSL_CA_FILE can point, the one KEDA reads', (service) => {
    const pod = deploymentOf(service).spec?.template.spec;
    const caRef = triggerAuths.flatMap((t) => t.spec.secretTargetRef ?? []).find((r) => r.parameter === 'ca');
    expect(caRef, 'TriggerAuthentication ca').toBeDefined();
    const volume = pod?.volumes?.find((v) => v.secret?.secretName === caRef?.name);
    expect(volume, `${service} mounts Secret ${caRef?.name}`).toBeDefined();
    const mount = containerOf(service).volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount?.readOnly).toBe(true);
    expect(Object.keys(secrets[caRef?.name ?? ''] ?? {})).toContain(caRef?.key);
    const caFile = envOf(service).env.KAFKA_SSL_CA_FILE;
    if (caFile) expect(caFile, 'KAFKA_SSL_CA_FILE, a file of the mounted CA Secret').toBe(`${mount?.mountPath}/${caRef?.key}`);
  });

  it.each(serviceNames)('probes %s on routes it serves and the port it listens on', async (service) => {
    const container = containerOf(service);
    const config = configOf<never>(service);
    const spec = SERVICES[service] as ServiceSpec;
    const healthPort = spec.healthPort(config);
    if (spec.stage) expect(spec.stage(config).port).toBe(healthPort);
    const probes = { startupProbe: container.startupProbe, livenessProbe: container.livenessProbe, readinessProbe: container.readinessProbe };
    const configuredPorts = Object.entries(config as Record<string, unknown>)
      .filter(([k]) => k.endsWith('_PORT'))
      .map(([, v]) => v);
    expect((container.ports ?? []).map((p) => p.containerPort).sort()).toEqual([...configuredPorts].sort());
    const server = await listen(operationalApp(service), 0, '127.0.0.1');
    try {
      for (const [kind, probe] of Object.entries(probes) as [string, IProbe | undefined][]) {
        expect(probe?.httpGet, `${service} ${kind}`).toBeDefined();
        expect(portNumber(container, probe?.httpGet?.port), `${service} ${kind} port`).toBe(healthPort);
        const answer = await fetch(`${server.url}${probe?.httpGet?.path}`);
        expect(answer.status, `${service} ${kind}: GET ${probe?.httpGet?.path}`).toBe(200);
      }
      expect(probes.livenessProbe?.httpGet?.path, 'liveness is not readiness: a broker outage must not restart every pod').not.toBe(probes.readinessProbe?.httpGet?.path);
      const annotations = deploymentOf(service).spec?.template.metadata?.annotations ?? {};
      expect(Number(annotations['prometheus.io/port'])).toBe(healthPort);
      const metrics = await fetch(`${server.url}${annotations['prometheus.io/path']}`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    } finally {
      await server.close();
    }
  });

  it.each(serviceNames)('gives %s a grace period longer than its preStop pause and SHUTDOWN_TIMEOUT_MS', (service) => {
    const { SHUTDOWN_TIMEOUT_MS } = configOf<{ SHUTDOWN_TIMEOUT_MS: number }>(service);
    const grace = deploymentOf(service).spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
    expect(grace * 1_000, 'terminationGracePeriodSeconds in ms, against the preStop pause plus SHUTDOWN_TIMEOUT_MS').toBeGreaterThan(preStopSeconds(containerOf(service)) * 1_000 + SHUTDOWN_TIMEOUT_MS);
  });

  it('pauses the ingress before SIGTERM, so endpoints are removed while it still serves', () => {
    expect(preStopSeconds(containerOf('ingress')), 'preStop sleep seconds').toBeGreaterThanOrEqual(5);
  });

  it.each(serviceNames)('runs %s as non-root on a read-only root, without capabilities, with resources and probes', (service) => {
    const pod = deploymentOf(service).spec?.template.spec;
    const container = containerOf(service);
    const context = { ...pod?.securityContext, ...container.securityContext };
    expect(context.runAsNonRoot, 'runAsNonRoot').toBe(true);
    // The image's USER is a name; the kubelet verifies runAsNonRoot only against a numeric id.
    expect(context.runAsUser ?? 0, 'a numeric runAsUser').toBeGreaterThan(0);
    expect(context.seccompProfile?.type, 'seccompProfile').toBe('RuntimeDefault');
    expect(container.securityContext?.allowPrivilegeEscalation, 'allowPrivilegeEscalation').toBe(false);
    expect(container.securityContext?.readOnlyRootFilesystem, 'readOnlyRootFilesystem').toBe(true);
    expect(container.securityContext?.capabilities?.drop, 'capabilities dropped').toContain('ALL');
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(pod?.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, 'a writable /tmp').toBeDefined();
    for (const field of ['cpu', 'memory']) {
      expect(container.resources?.requests?.[field], `requests.${field}`).toBeDefined();
      expect(container.resources?.limits?.[field], `limits.${field}`).toBeDefined();
    }
    expect({ startup: !!container.startupProbe, liveness: !!container.livenessProbe, readiness: !!container.readinessProbe }).toEqual({ startup: true, liveness: true, readiness: true });
    expect(pod?.enableServiceLinks, 'no <SERVICE>_PORT variables from service links').toBe(false);
    expect(pod?.automountServiceAccountToken, 'no API token: the services never call the API server').toBe(false);
  });

  it("selects each Deployment's pods, and only its, from every Service, budget and autoscaler", () => {
    for (const d of deployments) {
      expect(selects(d.spec?.selector.matchLabels, podLabels(d)), nameOf(d)).toBe(true);
      const overlapping = deployments.filter((other) => selects(d.spec?.selector.matchLabels, podLabels(other)));
      expect(overlapping.map(nameOf), `${nameOf(d)} selector`).toEqual([nameOf(d)]);
      expect(budgets.filter((b) => selects(b.spec?.selector?.matchLabels, podLabels(d))).map(nameOf), `budget of ${nameOf(d)}`).toHaveLength(1);
    }
    for (const b of budgets) {
      expect(b.spec?.selector?.matchExpressions, nameOf(b)).toBeUndefined();
      expect(deployments.filter((d) => selects(b.spec?.selector?.matchLabels, podLabels(d))), nameOf(b)).toHaveLength(1);
    }
    for (const s of services) {
      const selected = deployments.filter((d) => selects(s.spec?.selector, podLabels(d)));
      expect(selected.map(nameOf), `Service ${nameOf(s)}`).toHaveLength(1);
      const container = (selected[0] as IDeployment).spec?.template.spec?.containers[0] as IContainer;
      for (const port of s.spec?.ports ?? []) expect(portNumber(container, port.targetPort ?? port.port), `Service ${nameOf(s)} ${port.name}`).toBeDefined();
    }
    const targets = [...autoscalers.map((a) => a.spec?.scaleTargetRef), ...scaledObjects.map((s) => ({ kind: 'Deployment', ...s.spec.scaleTargetRef }))];
    for (const target of targets) {
      expect(target?.kind).toBe('Deployment');
      expect(deployments.map(nameOf)).toContain(target?.name);
    }
  });

  it('exposes the webhook port on a Service of its own, and the admin port only on another', () => {
    const container = containerOf('ingress');
    const { INGRESS_PORT, INGRESS_ADMIN_PORT } = configOf<IngressConfig>('ingress');
    const ingressServices = services.filter((s) => selects(s.spec?.selector, podLabels(deploymentOf('ingress'))));
    const reached = ingressServices.map((s) => (s.spec?.ports ?? []).map((p) => portNumber(container, p.targetPort ?? p.port)));
    expect(reached.flat()).toContain(INGRESS_PORT);
    for (const ports of reached) expect(ports.includes(INGRESS_PORT) && ports.includes(INGRESS_ADMIN_PORT), 'one Service with both ports').toBe(false);
  });

  it('scales the ingress on CPU, never below two replicas', () => {
    const hpas = autoscalers.filter((a) => a.spec?.scaleTargetRef.name === nameOf(deploymentOf('ingress')));
    expect(hpas.map(nameOf), 'HorizontalPodAutoscalers of the ingress').toHaveLength(1);
    const hpa = hpas[0];
    expect(hpa?.spec?.minReplicas, 'minReplicas').toBeGreaterThanOrEqual(2);
    expect(hpa?.spec?.metrics?.map((m) => m.resource?.name)).toEqual(['cpu']);
    expect(containerOf('ingress').resources?.requests?.cpu, 'utilization is relative to the request').toBeDefined();
    expect(deploymentOf('ingress').spec?.replicas, 'the HPA owns the count').toBeUndefined();
  });

  const lagScaled = serviceNames.filter((s) => SERVICES[s]?.scaling === 'lag');
  it.each(lagScaled)("scales %s on its group's lag on the topic it reads, never past the partitions", (service) => {
    const spec = SERVICES[service] as ServiceSpec;
    const config = configOf<FulfillmentConfig | AckAggregatorConfig>(service);
    const stage = (spec.stage as NonNullable<ServiceSpec['stage']>)(config as never);
    const { env } = envOf(service);
    const deployment = deploymentOf(service);
    expect(deployment.spec?.replicas, 'the ScaledObject owns the count').toBeUndefined();
    const scaledOnes = scaledObjects.filter((s) => s.spec.scaleTargetRef.name === nameOf(deployment));
    expect(scaledOnes.map(nameOf), `ScaledObjects of ${service}`).toHaveLength(1);
    const scaled = scaledOnes[0];
    expect(scaled?.spec.minReplicaCount, 'minReplicaCount').toBeGreaterThanOrEqual(1);
    expect(scaled?.spec.maxReplicaCount ?? 100, 'maxReplicaCount (KEDA: 100 when unset); replicas beyond the partitions would idle').toBeLessThanOrEqual(config.TOPIC_PARTITIONS);
    expect(scaled?.spec.triggers.map((t) => t.type)).toEqual(['kafka']);
    const trigger = scaled?.spec.triggers[0] as IScaledObject['spec']['triggers'][number];
    const md = trigger.metadata;
    const brokers = md.bootstrapServers ?? env[md.bootstrapServersFromEnv ?? ''] ?? '';
    expect(brokers.split(',').map((b) => b.trim()), 'bootstrap servers').toEqual(config.KAFKA_BROKERS);
    expect(md.consumerGroup ?? env[md.consumerGroupFromEnv ?? ''], 'consumer group').toBe(stage.groupId);
    // The stage's first input; fulfillment's retry tiers hold records until due, which is lag by design.
    expect(md.topic, 'topic').toBe(stage.inputs(topicNames(config.TOPIC_PREFIX))[0]);
    expect(Number(md.lagThreshold), `above the ${spec.healthyLag?.(config as never)} records a healthy replica holds`).toBeGreaterThan(spec.healthyLag?.(config as never) ?? 0);
    expect(md.allowIdleConsumers ?? 'false', 'allowIdleConsumers').toBe('false');
    // KEDA counts an uncommitted partition the way the stage starts it: from the beginning.
    expect(readFileSync(join(root, 'shared', 'stage', 'stage.ts'), 'utf8')).toMatch(/consumer\.subscribe\(\{ topics: inputs, fromBeginning: true \}\)/);
    expect(md.offsetResetPolicy, 'offsetResetPolicy').toBe('earliest');
    const sasl = { plain: 'plaintext', 'scram-sha-256': 'scram_sha256', 'scram-sha-512': 'scram_sha512' } as const;
    expect(md.sasl ?? 'none', 'sasl, for KAFKA_SASL_MECHANISM').toBe(config.KAFKA_SASL_MECHANISM ? sasl[config.KAFKA_SASL_MECHANISM] : 'none');
    expect(md.tls ?? 'disable', 'tls, for KAFKA_SSL').toBe(config.KAFKA_SSL || config.KAFKA_SSL_CA_FILE ? 'enable' : 'disable');
    // KEDA logs in with the credentials the service itself uses.
    const auth = triggerAuths.find((t) => nameOf(t) === trigger.authenticationRef?.name);
    expect(auth, `TriggerAuthentication ${trigger.authenticationRef?.name}`).toBeDefined();
    const fromSecret = (parameter: string) => auth?.spec.secretTargetRef?.find((r) => r.parameter === parameter);
    for (const [parameter, variable] of [['username', 'KAFKA_SASL_USERNAME'], ['password', 'KAFKA_SASL_PASSWORD']]) {
      const ref = containerOf(service).env?.find((e) => e.name === variable)?.valueFrom?.secretKeyRef;
      expect({ name: fromSecret(parameter as string)?.name, key: fromSecret(parameter as string)?.key }, parameter).toEqual({ name: ref?.name, key: ref?.key });
    }
  });

  it("keeps the session writer to one replica within Cognigy's limit for its API key", () => {
    const deployment = deploymentOf('session-writer');
    const targeted = [...autoscalers.map((a) => a.spec?.scaleTargetRef.name), ...scaledObjects.map((s) => s.spec.scaleTargetRef.name)];
    expect(targeted, 'each replica has its own call budget').not.toContain(nameOf(deployment));
    // The schema's default is Cognigy's documented limit per key.
    const limit = loadConfig(SessionWriterEnv, { SESSION_WRITER_ENABLED: 'true', COGNIGY_API_KEY: 'k' }).SESSION_WRITER_MAX_PER_5MIN;
    const replicas = deployment.spec?.replicas ?? 1;
    expect(replicas * configOf<SessionWriterConfig>('session-writer').SESSION_WRITER_MAX_PER_5MIN, 'replicas x SESSION_WRITER_MAX_PER_5MIN').toBeLessThanOrEqual(limit);
    // A rollout stops the old writer before the new one spends the same key.
    expect(deployment.spec?.strategy?.rollingUpdate?.maxSurge, 'maxSurge').toBe(0);
  });

  it('gives the same value wherever services share a variable', () => {
    const seen = new Map<string, Map<string, string>>();
    for (const service of serviceNames) {
      for (const [k, v] of Object.entries(envOf(service).env)) seen.set(k, (seen.get(k) ?? new Map<string, string>()).set(service, v));
    }
    const disagreeing = [...seen].filter(([, values]) => new Set(values.values()).size > 1).map(([k, values]) => `${k}: ${JSON.stringify(Object.fromEntries(values))}`);
    expect(disagreeing).toEqual([]);
  });

  it('points at real systems, not at the local stand-ins', () => {
    for (const service of serviceNames) {
      const local = Object.entries(envOf(service).env).filter(([, v]) => /127\.0\.0\.1|localhost|cognigy-simulator/.test(v));
      expect(local, service).toEqual([]);
      expect(configOf<{ NODE_ENV: string }>(service).NODE_ENV).toBe('production');
    }
    expect(configOf<IngressConfig>('ingress').SIMULATOR_ENABLED).toBe(false);
  });

  it('reads every key of the Secret template and only those, which hold placeholders, never applied by kustomize', () => {
    expect(rendered.filter((m) => m.doc.kind === 'Secret').map(describeManifest)).toEqual([]);
    const read = new Set<string>();
    for (const service of serviceNames) {
      for (const e of containerOf(service).env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) read.add(`${ref.name}/${ref.key}`);
      }
    }
    for (const r of triggerAuths.flatMap((t) => t.spec.secretTargetRef ?? [])) read.add(`${r.name}/${r.key}`);
    const template = Object.entries(secrets).flatMap(([name, data]) => Object.keys(data).map((key) => `${name}/${key}`));
    expect([...read].sort()).toEqual(template.sort());
    const values = Object.values(secrets).flatMap((data) => Object.values(data));
    expect(values.filter((v) => v !== '' && v !== 'CHANGE-ME')).toEqual([]);
  });
});
