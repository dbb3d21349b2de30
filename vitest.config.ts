import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/globalSetup.ts'],
    setupFiles: ['test/setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['node_modules/**'],
    pool: 'forks',
    // Two cores: two files at a time keeps the dev server and Postgres responsive.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: process.env.VITEST_JSON_OUTPUT ?? 'test-output/results.json' }]],
    env: { NODE_ENV: 'test', LOG_LEVEL: 'warn' },
  },
});
