/**
 * deploy/kubernetes as kubectl and the kubelet would take it, for kubernetes.test.ts: the documents
 * kustomization.yaml lists, their schemas (kubernetes-models: the Kubernetes OpenAPI schemas and
 * KEDA's CRDs, plus a TypeScript pass for fields neither schema knows), and the environment each
 * container would be started with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import type { IContainer } from 'kubernetes-models/v1/Container';

export const root = join(import.meta.dirname, '..', '..');
export const manifestsDir = join(root, 'deploy', 'kubernetes');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** One document and the file it came from. */
export interface Manifest {
  file: string;
  doc: KubeObject;
}

export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(manifestsDir, file), 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: document.toJS() as KubeObject };
  });
}

export const describeManifest = ({ file, doc }: Manifest): string => `${file} ${doc.kind}/${doc.metadata?.name}`;

/** Where kubernetes-models keeps the model of an apiVersion: the core group under v1, KEDA in its own package. */
function modelModule(apiVersion: string): string {
  return apiVersion.startsWith('keda.sh/') ? `@kubernetes-models/keda/${apiVersion}` : `kubernetes-models/${apiVersion}`;
}

type ModelClass = new (data: unknown) => { validate(): void };

/** The kubernetes-models class for a document, or undefined for a kind its schemas do not know. */
export async function modelOf(doc: KubeObject): Promise<ModelClass | undefined> {
  let module: Record<string, unknown>;
  try {
    module = (await import(modelModule(doc.apiVersion))) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const model = module[doc.kind];
  return typeof model === 'function' ? (model as ModelClass) : undefined;
}

/**
 * The JSON schemas leave out `additionalProperties: false`, so a misspelt field (`readinesProbe`)
 * passes validate() and the API server would drop or refuse it. The models' TypeScript types list
 * every field: each document is type-checked as an object literal of its kind's interface, where
 * every unknown field is an error. One program for all documents (about a second).
 */
export function unknownFieldProblems(manifests: Manifest[]): string[] {
  const file = join(root, 'test', 'operations', '__kubernetes-manifests.check.ts');
  const starts: number[] = [];
  let source = '';
  manifests.forEach(({ doc }, i) => {
    source += `import type { I${doc.kind} as T${i} } from '${modelModule(doc.apiVersion)}/${doc.kind}';\n`;
  });
  manifests.forEach(({ doc }, i) => {
    starts.push(source.length);
    source += `export const d${i}: T${i} = ${JSON.stringify(doc, null, 1)};\n`;
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : read(name, language, ...rest));
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
    const index = d.start === undefined ? -1 : starts.findLastIndex((s) => s <= (d.start as number));
    const where = index >= 0 ? describeManifest(manifests[index] as Manifest) : 'imports';
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/** The fields of a zod object schema, through the refinements and pipes around it. */
export function shapeKeys(schema: z.ZodType): string[] {
  const s = schema as unknown as { shape?: Record<string, unknown>; def?: { in?: z.ZodType; schema?: z.ZodType } };
  if (s.shape) return Object.keys(s.shape);
  const inner = s.def?.in ?? s.def?.schema;
  if (inner) return shapeKeys(inner);
  throw new Error('not an object schema');
}

export interface ContainerEnv {
  /** Every variable as the kubelet would set it; an optional key that is missing sets nothing. */
  env: Record<string, string>;
  /** What would keep the container from starting, or a variable set twice (one value silently wins). */
  problems: string[];
}

/** The environment of a container from its envFrom ConfigMaps and Secrets and its env entries. */
export function containerEnv(
  container: IContainer,
  configMaps: Record<string, Record<string, string>>,
  secrets: Record<string, Record<string, string>>,
): ContainerEnv {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  const set = (name: string, value: string, from: string) => {
    if (name in env) problems.push(`${name} is set twice (again by ${from})`);
    env[name] = value;
  };
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const data = (source.configMapRef ? configMaps : secrets)[ref?.name ?? ''];
    if (!data) {
      if (!ref?.optional) problems.push(`envFrom ${kind} ${ref?.name} does not exist`);
      continue;
    }
    for (const [name, value] of Object.entries(data)) set(name, value, `${kind} ${ref?.name}`);
  }
  for (const entry of container.env ?? []) {
    if (entry.valueFrom === undefined) {
      set(entry.name, entry.value ?? '', 'a value');
      continue;
    }
    const ref = entry.valueFrom.secretKeyRef ?? entry.valueFrom.configMapKeyRef;
    if (!ref) {
      problems.push(`${entry.name} comes from a field or resource this check does not resolve`);
      continue;
    }
    const kind = entry.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
    const value = (entry.valueFrom.secretKeyRef ? secrets : configMaps)[ref.name ?? '']?.[ref.key];
    if (value !== undefined) set(entry.name, value, `${kind} ${ref.name}/${ref.key}`);
    else if (!ref.optional) problems.push(`${entry.name}: ${kind} ${ref.name} has no key ${ref.key}`);
  }
  return { env, problems };
}
