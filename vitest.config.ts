import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The `unit` project (`npm run test:unit`): tests that need no service: no Temporal server, no
 * PostgreSQL, no Redis (SQLite temp files, the in-process emulator and the embedding model are
 * fine). The project blanks TEST_TEMPORAL_ADDRESS / TEST_POSTGRES_URL / TEST_REDIS_URL, so a test
 * in it that reaches for a service fails loudly (test/helpers/services.ts) even where the services
 * run. Everything else is the `services` project; `npm test` runs both.
 */
export const UNIT_TESTS = [
  'test/auth/admin.test.ts',
  'test/auth/keys-cli.test.ts',
  'test/bench/versus.test.ts',
  'test/build/**/*.test.ts',
  'test/codec-server/server.test.ts',
  'test/config/**/*.test.ts',
  'test/deploy/**/*.test.ts',
  'test/chaos/emulator-log.test.ts',
  'test/emulator/**/*.test.ts',
  'test/examples/example-config.test.ts',
  'test/hooks/bus.test.ts',
  'test/hooks/improvement-events.test.ts',
  'test/replay/**/*.test.ts',
  'test/consensus/confidence.test.ts',
  'test/consensus/decisions.test.ts',
  'test/consensus/early-stop.test.ts',
  'test/consensus/embeddings.test.ts',
  'test/consensus/judge.test.ts',
  'test/consensus/lexical.test.ts',
  'test/consensus/short-answers.test.ts',
  'test/consensus/similarity.test.ts',
  'test/consensus/voting.test.ts',
  'test/improvement/analysis.test.ts',
  'test/improvement/assignment.test.ts',
  'test/improvement/baseline.test.ts',
  'test/improvement/experiments.test.ts',
  'test/improvement/meta-prompt.test.ts',
  'test/improvement/replay.test.ts',
  'test/improvement/report.test.ts',
  'test/improvement/statistics.test.ts',
  'test/memory/schema-twin.test.ts',
  'test/metrics/**/*.test.ts',
  'test/privacy/payload-codec.test.ts',
  'test/privacy/log-text.test.ts',
  'test/privacy/payload-keys-cli.test.ts',
  'test/plugins/connector.test.ts',
  'test/plugins/http-connector.test.ts',
  'test/plugins/load.test.ts',
  'test/providers/errors.test.ts',
  'test/providers/pricing.test.ts',
  'test/providers/registry.test.ts',
  'test/resilience/failure-rate.test.ts',
  'test/routing/bandit.test.ts',
  'test/routing/complexity.test.ts',
  'test/routing/llm-evaluator.test.ts',
  'test/routing/planner.test.ts',
  'test/routing/policy-base.test.ts',
  'test/routing/policy.test.ts',
  'test/routing/policy-source.test.ts',
  'test/temporal/closed-channel.test.ts',
  'test/routing/stats.test.ts',
  'test/tracing/provider-span.test.ts',
  'test/routing/validate-request.test.ts',
  'test/unit-project.test.ts',
  'test/testing/mock-connector.test.ts',
  'test/testing/kit-errors.test.ts',
];

export default defineConfig({
  test: {
    // Temporal's native worker and better-sqlite3 are happiest in child processes.
    pool: 'forks',
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files share one dev server and one database server; keep CPU contention sane on 2 cores.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: UNIT_TESTS, env: { TEST_TEMPORAL_ADDRESS: '', TEST_POSTGRES_URL: '', TEST_REDIS_URL: '' }, sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'services', include: ['test/**/*.test.ts', 'examples/testing/**/*.test.ts'], exclude: [...configDefaults.exclude, ...UNIT_TESTS], sequence: { groupOrder: 1 } } },
    ],
  },
});
