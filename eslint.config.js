import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Module boundaries, as `no-restricted-imports` entries. ESLint replaces a rule's options rather than
// merging them when several config objects match a file, so every file group below lists all the
// restrictions that apply to it.
const kafkaClient = {
  paths: [
    {
      name: 'kafkajs',
      message:
        'Only shared/kafka.ts imports kafkajs, so the unmaintained client can be replaced in one module. ' +
        'Import from shared/kafka.ts instead (add the export there if it is missing).',
    },
  ],
  patterns: [
    {
      group: ['kafkajs/*'],
      message: 'Only shared/kafka.ts imports kafkajs, so the client can be replaced in one module. Import from shared/kafka.ts instead.',
    },
  ],
};

const registryClient = {
  paths: [
    {
      name: '@kafkajs/confluent-schema-registry',
      message:
        'Only shared/serde.ts imports the schema registry client, so it can be replaced in one module. ' +
        'Use createRegistry and the SchemaRegistryClient type from shared/serde.ts instead.',
    },
  ],
  patterns: [
    {
      group: ['@kafkajs/confluent-schema-registry/*'],
      message: 'Only shared/serde.ts imports the schema registry client. Use shared/serde.ts instead.',
    },
  ],
};

const sharedStaysShared = {
  paths: [],
  patterns: [
    {
      group: ['**/services', '**/services/**', '**/tools', '**/tools/**'],
      message:
        'shared/ holds only code the services share, so it must not depend on a service or on tools/ ' +
        '(the operator CLI and the local infrastructure). Move what both need into shared/.',
    },
  ],
};

const servicesWithoutTools = {
  paths: [],
  patterns: [
    {
      group: ['**/tools', '**/tools/**'],
      message:
        'A service must not depend on tools/ (the operator CLI and the local infrastructure launcher), ' +
        'which runs beside the services rather than in them. Move what both need into shared/.',
    },
  ],
};

function restrictedImports(...restrictions) {
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: restrictions.flatMap((r) => r.paths),
        patterns: restrictions.flatMap((r) => r.patterns),
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // Production code. Tests and benchmarks may use the clients directly: they check this code from outside.
  {
    files: ['services/**'],
    rules: restrictedImports(servicesWithoutTools, kafkaClient, registryClient),
  },
  {
    files: ['tools/**'],
    rules: restrictedImports(kafkaClient, registryClient),
  },
  {
    files: ['shared/**'],
    rules: restrictedImports(sharedStaysShared, kafkaClient, registryClient),
  },
  {
    files: ['shared/kafka.ts'],
    rules: restrictedImports(sharedStaysShared, registryClient),
  },
  {
    files: ['shared/serde.ts'],
    rules: restrictedImports(sharedStaysShared, kafkaClient),
  },
  // The console's page scripts run in the browser, as classic scripts.
  {
    files: ['services/console/public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { window: 'readonly', document: 'readonly', FormData: 'readonly', URLSearchParams: 'readonly', Node: 'readonly', fetch: 'readonly' },
    },
  },
);
