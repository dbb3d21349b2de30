// Lint keeps workflow code deterministic and catches floating promises everywhere.
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'http2',
  'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url', 'util', 'v8', 'vm',
  'worker_threads', 'zlib',
];

const sandboxPaths = [
  ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'Workflow code must not use Node built-ins.' })),
  ...['pg', 'kysely', 'sharp', 'undici', 'fastify', 'pino', '@temporalio/activity', '@temporalio/client', '@temporalio/worker']
    .map((name) => ({ name, message: 'Workflow code must not do I/O; call an activity.' })),
];
/** Rooms workflow code never imports (relative imports name them by folder): only src/shared and the SDK. */
const NOT_FOR_WORKFLOWS = ['db', 'provider', 'imaging', 'storage', 'config', 'app', 'cli', 'http', 'local', 'dev', 'net', 'support', 'catalog', 'import', 'results'];
const sandboxPatterns = [
  { group: NOT_FOR_WORKFLOWS.flatMap((room) => [`**/${room}`, `**/${room}/**`]).concat(['**/temporal/client', '**/temporal/client/**', '**/temporal/worker', '**/temporal/worker/**']), message: 'Workflow code may import only the workflow-safe shared module, the SDK, and activity types.' },
];
/** The shared modules the workflows import (test/unit/workflowBundle.test.ts checks the bundle). */
const WORKFLOW_IMPORTED_SHARED = ['src/shared/check.ts', 'src/shared/failures.ts', 'src/shared/ids.ts', 'src/shared/refresh.ts', 'src/shared/searchAttributes.ts', 'src/shared/steps.ts'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.data/**', 'dist/**', 'test-output/**', 'bench/out/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Migrations are frozen in time: they take Kysely<any> and never import application types.
    files: ['migrations/**/*.ts', 'src/db/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
    // no wall clock or randomness outside the SDK's deterministic replacements.
    files: ['src/temporal/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: sandboxPaths, patterns: sandboxPatterns }],
      'no-restricted-globals': ['error', { name: 'console', message: 'Use the SDK log.' }, { name: 'process', message: 'No process access in workflows.' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use the SDK uuid4 or activity input.' }],
    },
  },
  {
    // What the workflows import is evaluated again for every workflow execution (the reusable V8
    // context keeps module state per workflow): no schema library there (src/shared/check.ts).
    files: ['src/temporal/workflows/**/*.ts', ...WORKFLOW_IMPORTED_SHARED],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...sandboxPaths, { name: 'zod', message: 'Workflow code is evaluated per workflow execution: check inputs with src/shared/check.ts.' }],
        patterns: [...sandboxPatterns, { regex: '(^|/)shared(/index|/plan)?$', message: 'These modules load zod; import the workflow-imported shared modules one by one.' }],
      }],
    },
  },
  {
    files: ['src/temporal/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      // Activities run in the worker, not the sandbox: workflows see their types only.
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ group: ['**/activities', '**/activities/**'], allowTypeImports: true, message: 'Workflows import activity types only (import type); call them through ./proxies.' }],
      }],
    },
  },
  {
    // Postgres only through src/db (repositories, the connection, migrations): SQL lives there, once.
    files: ['src/**/*.ts'],
    // The workflows have their own, stricter fence; the embedded Postgres launcher administers the cluster itself.
    ignores: ['src/db/**', 'src/temporal/workflows/**', 'src/local/postgres.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [
          { name: 'kysely', allowTypeImports: true, message: 'Write queries in src/db/repositories; take Kysely<Database> as a type here.' },
          { name: 'pg', message: 'Connect through src/db/connect.ts.' },
        ],
      }],
      'no-restricted-syntax': ['error', {
        selector: 'CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|selectNoFrom)$/]',
        message: 'Queries live in src/db/repositories.',
      }],
    },
  },
);
