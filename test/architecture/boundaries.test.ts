/**
 * The module boundaries of eslint.config.js, checked through ESLint itself: each restriction fires on
 * a violating import at a realistic path, stays quiet where the import is allowed, and the real
 * shared/, services/ and tools/ break none of them. A config edit that silently drops a restriction
 * (a glob that no longer matches, a later config object overriding the rule) fails here.
 */
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const RULE = 'no-restricted-imports';
// Only the boundary rule runs, which keeps linting the whole production tree to about a second.
const eslint = new ESLint({ cwd: root, ruleFilter: ({ ruleId }) => ruleId === RULE });

/** The three ways a module can pull in another: a value import, a type-only import and a re-export. */
const importForms = (specifier: string): string[] => [
  `import { thing } from '${specifier}';\nexport const used = thing;\n`,
  `import type { Thing } from '${specifier}';\nexport type Used = Thing;\n`,
  `export * from '${specifier}';\n`,
];

/** The boundary messages ESLint reports for each import form of `specifier` in a file at `filePath`. */
async function boundaryMessages(filePath: string, specifier: string): Promise<string[][]> {
  return Promise.all(
    importForms(specifier).map(async (code) => {
      const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
      expect(result?.messages.filter((m) => m.fatal), `${filePath}: ${code}`).toEqual([]);
      return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
    }),
  );
}

const SHARED_ONLY = /shared\/ holds only code the services share/;
const KAFKAJS = /Only shared\/kafka\.ts imports kafkajs/;
const REGISTRY = /Only shared\/serde\.ts imports the schema registry client/;
const NO_TOOLS = /A service must not depend on tools\//;

describe('import boundaries (eslint.config.js)', () => {
  it.each([
    ['shared/x.ts', '../services/ingress/app.js', SHARED_ONLY],
    ['shared/x.ts', '../services/fulfillment/x.js', SHARED_ONLY],
    ['shared/stage/x.ts', '../../services/ack-aggregator/service.js', SHARED_ONLY],
    ['shared/x.ts', '../tools/cli/dlq.js', SHARED_ONLY],
    ['shared/stage/x.ts', '../../tools/cli/y.js', SHARED_ONLY],
    ['shared/kafka.ts', '../tools/infra/readiness.js', SHARED_ONLY],
    ['shared/serde.ts', '../services/ingress/payload.js', SHARED_ONLY],
    ['services/fulfillment/x.ts', 'kafkajs', KAFKAJS],
    ['services/ingress/x.ts', 'kafkajs/src/index.js', KAFKAJS],
    ['tools/infra/x.ts', 'kafkajs', KAFKAJS],
    ['shared/x.ts', 'kafkajs', KAFKAJS],
    ['shared/serde.ts', 'kafkajs', KAFKAJS],
    ['tools/cli/x.ts', '@kafkajs/confluent-schema-registry', REGISTRY],
    ['services/ack-aggregator/x.ts', '@kafkajs/confluent-schema-registry', REGISTRY],
    ['shared/x.ts', '@kafkajs/confluent-schema-registry/dist/index.js', REGISTRY],
    ['shared/kafka.ts', '@kafkajs/confluent-schema-registry', REGISTRY],
    ['services/ingress/x.ts', '../../tools/cli/output.js', NO_TOOLS],
    ['services/fulfillment/nested/x.ts', '../../../tools/infra/launcher.js', NO_TOOLS],
  ])('%s may not import %s', async (filePath, specifier, why) => {
    for (const messages of await boundaryMessages(filePath, specifier)) {
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatch(why);
    }
  });

  it.each([
    ['shared/kafka.ts', 'kafkajs'],
    ['shared/serde.ts', '@kafkajs/confluent-schema-registry'],
    ['shared/x.ts', './kafka.js'],
    ['shared/stage/x.ts', '../serde.js'],
    ['services/fulfillment/x.ts', '../../shared/kafka.js'],
    ['services/ack-aggregator/x.ts', '../../shared/serde.js'],
    ['tools/cli/x.ts', '../../services/ingress/auth.js'],
    ['tools/infra/x.ts', '../../shared/kafka.js'],
    // Tests and benchmarks check the production code from outside, with the clients themselves.
    ['test/x.test.ts', 'kafkajs'],
    ['test/x.test.ts', '../tools/infra/launcher.js'],
    ['bench/x.ts', '@kafkajs/confluent-schema-registry'],
  ])('%s may import %s', async (filePath, specifier) => {
    expect(await boundaryMessages(filePath, specifier)).toEqual([[], [], []]);
  });

  it('holds in shared/, services/ and tools/', async () => {
    const results = await eslint.lintFiles(['shared', 'services', 'tools']);
    const linted = results.map((r) => relative(root, r.filePath));
    // The directories really were linted, as TypeScript.
    expect(linted).toEqual(expect.arrayContaining(['shared/kafka.ts', 'shared/serde.ts', 'services/ingress/app.ts', 'tools/cli/main.ts']));
    const violations = results.flatMap((r) =>
      r.messages
        .filter((m) => m.ruleId === RULE || m.fatal)
        .map((m) => `${relative(root, r.filePath)}:${m.line} ${m.message}`),
    );
    expect(violations).toEqual([]);
  });
});
