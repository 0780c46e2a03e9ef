/**
 * npm run example:code-generator [-- --description "..." --language go --no-review --json]
 *
 * Run by scripts/example.sh, which starts a Temporal dev server when none answers on
 * TEMPORAL_PORT (default 7233) and stops only the one it started.
 */
import { Command } from 'commander';
import { OrchestratorError } from '../../src/errors';
import { formatCodeGeneratorRun, runCodeGenerator } from './code-generator';

async function main(): Promise<void> {
  const opts = new Command('example:code-generator')
    .option('--description <text>', 'what the code should do', 'A function to parse CSV files with error handling')
    .option('--language <name>', 'programming language', 'python')
    .option('--no-tests', 'do not generate tests')
    .option('--no-review', 'do not review the code')
    .option('--database-url <url>', "where the example's interactions are stored (default file:.data/examples/code-generator.db)")
    .option('--json', 'print the result as JSON')
    .parse(process.argv)
    .opts<{ description: string; language: string; tests: boolean; review: boolean; databaseUrl?: string; json?: boolean }>();
  const run = await runCodeGenerator({
    description: opts.description,
    language: opts.language,
    includeTests: opts.tests,
    review: opts.review,
    ...(opts.databaseUrl !== undefined && { databaseUrl: opts.databaseUrl }),
  });
  console.log(opts.json ? JSON.stringify(run, null, 2) : formatCodeGeneratorRun(run).join('\n'));
}

main().catch((err: unknown) => {
  console.error(err instanceof OrchestratorError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
});
