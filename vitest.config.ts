import { defineConfig } from 'vitest/config';

const RESULTS = '.cache/test-results.json';

export default defineConfig({
  test: {
    // Real broker round trips (group joins, transactions) on a 2-core CI machine are slow, not broken.
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // Child processes rather than threads: kafkajs clients and their timers are torn down with the process.
    pool: 'forks',
    // Two test files at a time: the JVM broker and registry need the remaining CPU.
    maxWorkers: 2,
    // `json` gives .ci/run a machine-readable summary (numPassedTests / numFailedTests); the stall
    // reporter names files that run on and ends a run that every file finished but vitest did not.
    reporters: ['default', ['json', { outputFile: RESULTS }], ['./test/support/stall-reporter.ts', { outputFile: RESULTS }]],
    projects: [
      {
        // `npm run test:unit`: no broker, registry or Java needed.
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/**/*.int.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          // Starts (or reuses, via KAFKA_BROKERS / SCHEMA_REGISTRY_URL) one Kafka broker and schema registry per run.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
