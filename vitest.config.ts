import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Temporal's native worker and better-sqlite3 are happiest in child processes.
    pool: 'forks',
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files share one dev server and one database server; keep CPU contention sane on 2 cores.
    fileParallelism: false,
  },
});
