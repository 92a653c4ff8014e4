import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { ConfigError } from './config.js';
import type { AckBatch, CognigyCallback, FulfillmentResult } from './contracts.js';

export interface SchemaTypes {
  CognigyCallback: CognigyCallback;
  FulfillmentResult: FulfillmentResult;
  AckBatch: AckBatch;
}
export type SchemaName = keyof SchemaTypes;

/** A first registration that lost a race with another replica's (see `registerOnce`). */
function racingRegistration(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ConfluentSchemaRegistryCompatibilityError') return true;
  const answer = error as Error & { status?: number; url?: string };
  return answer.name === 'ResponseError' && answer.status === 409 && (answer.url ?? '').includes('/config/');
}

/**
 * The registry answered 401 or 403: the credentials (SCHEMA_REGISTRY_USERNAME and _PASSWORD) are
 * missing or wrong. Settings, like a bad variable: asking again does not help.
 */
export class RegistryAccessRefused extends ConfigError {
  override name = 'RegistryAccessRefused';
  constructor(
    message: string,
    readonly status: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** The client's error for a 401 or 403, in one line that names the variables; anything else as it is. */
function explainRefusal(error: unknown): unknown {
  const answer = error as { status?: unknown; url?: unknown };
  if (answer.status !== 401 && answer.status !== 403) return error;
  return new RegistryAccessRefused(
    `the schema registry answered ${answer.status} ${answer.status === 401 ? 'Unauthorized' : 'Forbidden'} to ${String(answer.url).replace(/^\w+/, (method) => method.toUpperCase())}: ` +
      'set or check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD',
    answer.status,
    { cause: error },
  );
}

/** Attempts at a first registration that races another replica's (see `registerOnce`). */
const REGISTER_RACE_ATTEMPTS = 8;

/** schemas/ sits at the repository root, both from sources (tsx, vitest) and from dist/. */
function schemasDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, 'CognigyCallback.avsc'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('schemas/ not found above ' + fileURLToPath(import.meta.url));
}

export function loadSchema(name: SchemaName): string {
  return readFileSync(join(schemasDir(), `${name}.avsc`), 'utf8');
}

/** The registry client as other modules see it, so only this module depends on the client package. */
export type SchemaRegistryClient = SchemaRegistry;

/** HTTP Basic credentials for the registry (Confluent Cloud: an API key and its secret). */
export type RegistryAuth = { username: string; password: string };

export function createRegistry(url: string, auth?: RegistryAuth): SchemaRegistryClient {
  return new SchemaRegistry({ host: url, clientId: 'cognigy-stream', ...(auth ? { auth } : {}) });
}

/**
 * Avro values in the Confluent wire format for one topic: subject `<topic>-value`, BACKWARD
 * compatibility, so other teams decode them with any Confluent-compatible client.
 */
export class TopicSerde<N extends SchemaName> {
  private schemaId: Promise<number> | undefined;

  constructor(
    private readonly registry: SchemaRegistry,
    readonly topic: string,
    readonly schemaName: N,
  ) {}

  get subject(): string {
    return `${this.topic}-value`;
  }

  /**
   * Registers the schema (idempotent in the registry) once; concurrent first encodes share the one
   * registration. A failed registration is forgotten so the next call tries again.
   */
  register(): Promise<number> {
    this.schemaId ??= this.registerOnce().catch((error: unknown) => {
      this.schemaId = undefined;
      throw error;
    });
    return this.schemaId;
  }

  /**
   * The client registers a new subject, then sets its compatibility: a replica starting at the same
   * moment can find the subject in between, still at the registry's default, and is refused with a
   * compatibility mismatch, or both set it and the second is answered 409 (Apicurio: "a rule named
   * COMPATIBILITY already exists"). Those are waited out (the first registrant sets BACKWARD within
   * a round trip); anything else, an incompatible schema included, fails at once.
   */
  private async registerOnce(): Promise<number> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: loadSchema(this.schemaName) },
          { subject: this.subject, compatibility: COMPATIBILITY.BACKWARD },
        );
        return id;
      } catch (error) {
        if (!racingRegistration(error) || attempt >= REGISTER_RACE_ATTEMPTS) throw explainRefusal(error);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  async encode(value: SchemaTypes[N]): Promise<Buffer> {
    return this.registry.encode(await this.register(), value);
  }

  /**
   * Whether the registry knows the writer schema `schemaId`: false when it answers 404 (an id that
   * will stay unknown); throws when the registry cannot be asked (which says nothing about the
   * record). Fetched schemas are cached by the client.
   */
  async hasWriterSchema(schemaId: number): Promise<boolean> {
    try {
      await this.registry.getSchema(schemaId);
      return true;
    } catch (error) {
      if ((error as { status?: unknown }).status === 404) return false;
      throw explainRefusal(error);
    }
  }

  /** Decodes with the writer's schema as registered; fails on bytes that are not this wire format. */
  async decode(buffer: Buffer): Promise<SchemaTypes[N]> {
    return (await this.registry.decode(buffer)) as SchemaTypes[N];
  }
}

/** Decodes any Confluent-framed Avro value (the DLQ CLI does not know which topic a record came from). */
export async function decodeAny(registry: SchemaRegistry, buffer: Buffer): Promise<unknown> {
  return registry.decode(buffer);
}
