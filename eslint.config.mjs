// @ts-check
/**
 * Lint rules: typed linting (typescript-eslint's recommendedTypeChecked) on every file of
 * tsconfig.json, the few rules that catch real bugs in Temporal code made errors, and a fence
 * around workflow code, which runs in Temporal's deterministic sandbox and must import nothing
 * but @temporalio/workflow, types and pure helpers.
 */
import { builtinModules } from 'node:module';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** The files tsconfig.json includes: only these can be linted with type information. */
const TYPED_FILES = [
  'src/**/*.ts',
  'workflows/**/*.ts',
  'activities/**/*.ts',
  'client/**/*.ts',
  'test/**/*.ts',
  'bench/**/*.ts',
  'scripts/**/*.ts',
  'examples/**/*.ts',
  'worker.ts',
  'vitest.config.ts',
];

const NOT_IN_WORKFLOWS = 'Workflow code runs in a deterministic sandbox: do the work in an activity and call it through proxyActivities.';

/** Modules a workflow must not import at all, with the reason shown to whoever tries. */
const workflowBannedPaths = [
  // Node built-ins, bare and node:-prefixed (the node: form is also caught by the pattern below).
  ...builtinModules.filter((name) => !name.startsWith('_')).map((name) => ({ name, message: `Node built-in "${name}". ${NOT_IN_WORKFLOWS}` })),
];

/** Packages and app modules a workflow may import types from, never values. */
const workflowBannedPatterns = [
  {
    group: ['node:*'],
    message: `Node built-ins are not available in workflows. ${NOT_IN_WORKFLOWS}`,
  },
  {
    group: ['@prisma/*', '**/generated/**', 'better-sqlite3', 'pg', 'pg-*'],
    message: `Database access belongs in activities. ${NOT_IN_WORKFLOWS}`,
    allowTypeImports: true,
  },
  {
    group: ['openai', 'openai/*', '@anthropic-ai/sdk', '@anthropic-ai/sdk/*', '@google/genai', '@google/genai/*'],
    message: `Provider SDKs do network I/O. ${NOT_IN_WORKFLOWS}`,
    allowTypeImports: true,
  },
  {
    group: ['pino', 'pino/*'],
    message: 'Use `log` from @temporalio/workflow: it is replay-aware and routed to the worker logger.',
    allowTypeImports: true,
  },
  {
    group: ['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'],
    message: 'Workflows import only @temporalio/workflow (and @temporalio/common).',
    allowTypeImports: true,
  },
  {
    group: [
      '**/src/providers',
      '**/src/providers/**',
      '**/src/memory',
      '**/src/memory/**',
      '**/src/emulator',
      '**/src/emulator/**',
      '**/src/config/load',
      '**/src/config/env',
      '**/src/runtime',
      '**/activities',
      '**/activities/**',
    ],
    message: `Only types may come from providers, memory, activities and other I/O modules (\`import type\`); activities are called through proxyActivities<Activities>(). ${NOT_IN_WORKFLOWS}`,
    allowTypeImports: true,
  },
];

export default defineConfig(
  globalIgnores(['node_modules/', 'src/generated/', 'dist/', '.data/', '.cache/', 'coverage/']),

  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // TypeScript in the project: typed rules.
  {
    files: TYPED_FILES,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // An un-awaited promise in a workflow or activity is a lost error or a race.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Type-only imports are erased, which is what keeps activity types out of workflow bundles.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // LLM payloads are `unknown` plus zod, never `any`.
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },

  // TypeScript outside tsconfig.json (tool configs at the root, say): the same rules minus those
  // that need type information.
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    ignores: TYPED_FILES,
    extends: [tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },

  // JavaScript (this file): syntax-level checks only.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },

  // Workflow code: deterministic, sandboxed, bundled by the worker.
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', { paths: workflowBannedPaths, patterns: workflowBannedPatterns }],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use `sleep` from @temporalio/workflow: a durable timer that survives restarts and honours cancellation scopes.' },
        { name: 'setInterval', message: 'Loop over `sleep` from @temporalio/workflow instead.' },
        { name: 'process', message: 'There is no process in the workflow sandbox: pass what the workflow needs in its input.' },
      ],
    },
  },

  // Tests: vitest's expect(mock.method) passes methods around on purpose, and mock activities
  // are async functions that need not await anything.
  {
    files: ['test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
);
