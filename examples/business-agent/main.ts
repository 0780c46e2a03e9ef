/**
 * npm run example:business-agent [-- --document path/to/file.md --report-type risk_review --out-dir ./out --json]
 *
 * Run by scripts/example.sh, which starts a Temporal dev server when none answers on
 * TEMPORAL_PORT (default 7233) and stops only the one it started.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { OrchestratorError } from '../../src/errors';
import { formatBusinessAgentRun, runBusinessAgent } from './business-agent';

async function main(): Promise<void> {
  const opts = new Command('example:business-agent')
    .option('--document <path>', 'the document to analyse', join(__dirname, 'documents', 'supplier-agreement.md'))
    .option('--report-type <name>', 'the kind of report', 'compliance_review')
    .option('--out-dir <dir>', 'where the report file is written', join(tmpdir(), 'business-agent'))
    .option('--database-url <url>', "where the example's interactions are stored (default file:.data/examples/business-agent.db)")
    .option('--json', 'print the result as JSON')
    .parse(process.argv)
    .opts<{ document: string; reportType: string; outDir: string; databaseUrl?: string; json?: boolean }>();
  let document: string;
  try {
    document = readFileSync(opts.document, 'utf8');
  } catch (err) {
    throw new Error(`--document: cannot read "${opts.document}": ${(err as Error).message}`);
  }
  const run = await runBusinessAgent({
    document,
    documentName: basename(opts.document),
    reportType: opts.reportType,
    outDir: opts.outDir,
    ...(opts.databaseUrl !== undefined && { databaseUrl: opts.databaseUrl }),
  });
  console.log(opts.json ? JSON.stringify(run, null, 2) : formatBusinessAgentRun(run).join('\n'));
}

main().catch((err: unknown) => {
  console.error(err instanceof OrchestratorError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : err);
  process.exit(1);
});
