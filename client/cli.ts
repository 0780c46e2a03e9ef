/**
 * orchestrator CLI: run | status | list | feedback | replay, and the routing / improvement / experiments / keys / payload-keys groups.
 *   npm run cli -- run --prompt "..." --task-type code_generation --user u1 [--consensus] [--json]
 *   npm run cli -- run --prompt-file prompt.txt -t summarization -u u1     (--prompt-file - reads standard input)
 *   npm run cli -- status <workflowId>
 *   npm run cli -- list --query 'TaskType = "code_generation"'
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { OrchestratorError } from '../src/errors';
import { ApiKeyError } from '../src/auth/errors';
import { ImprovementError } from '../src/improvement/errors';
import { ComplexitySchema, type OrchestrateRequest, type OrchestrationResult } from '../src/types';
import type { OrchestratorClient } from './orchestrator-client';
import { addImprovementCommands } from './improvement-cli';
import { addConversationsCommands } from './conversations-cli';
import { addKeysCommands } from './keys-cli';
import { addPayloadKeysCommands } from './payload-keys-cli';
import { addRoutingCommands } from './routing-cli';
import { addAnalyticsCommands } from './analytics-cli';
import { addPluginsCommands } from './plugins-cli';
import { addUsersCommands } from './users-cli';
import { addReportCommands, DoctorFailed } from './report-cli';
import { ExitCode, UsageError, exitQuietlyOnBrokenPipe, floatArg, intArg, readStdin } from './cli-args';

async function withClient<T>(fn: (client: OrchestratorClient) => Promise<T>): Promise<T> {
  // Loaded on use, not at the top: `--help` and argument errors need none of this (start-up time).
  const [{ loadEnv }, { loadConfig }, orchestrator] = await Promise.all([import('../src/config/env'), import('../src/config/load'), import('./orchestrator-client')]);
  const env = loadEnv();
  const config = loadConfig(env.CONFIG_PATH);
  const client = await orchestrator.OrchestratorClient.connect({ env, config });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export function printResult(result: OrchestrationResult, webUiUrl: string, emulated: boolean, out: (line: string) => void = console.log): void {
  const m = result.metadata;
  out('');
  out('Answer');
  out('------');
  out(result.response);
  out('');
  out('Metadata');
  out('--------');
  out(`  workflow           ${m.workflowId}`);
  out(`  complexity         ${m.complexity} (score ${m.complexityScore})`);
  out(`  route              rule ${m.routingRule ?? 'default'}, policy v${m.routingPolicyVersion}`);
  if (m.routingDecision) {
    const d = m.routingDecision;
    out(`  ranking            ${d.ranking.join(' > ')}${d.explored ? ' (exploration pick)' : ''} [${d.method}, ${d.objective.kind}]`);
  }
  if (m.cacheHit) out(`  cache              hit: answer from ${m.cachedFrom ?? 'an earlier request'}, no provider called`);
  out(`  providers used     ${m.providersUsed.join(', ') || '-'}`);
  const threshold = m.thresholdMet === null ? '' : m.thresholdMet ? ', threshold met' : ', threshold NOT met';
  out(`  consensus          ${m.consensusApplied ? `${m.consensusStrategy}, confidence ${m.confidence}, agreement ${m.agreement}${threshold}` : 'not applied (one answer)'}`);
  if (m.lowConfidence) out(`  LOW CONFIDENCE     below consensus.confidence_threshold after asking ${m.escalated} more provider(s)`);
  else if (m.escalated > 0) out(`  escalation         ${m.escalated} provider(s) added for agreement`);
  if (m.dissenting.length > 0) out(`  dissenting         ${m.dissenting.join(', ')}`);
  if (m.cancelledCalls > 0) out(`  early stop         ${m.cancelledCalls} call(s) cancelled${m.latencySavedMs !== null ? `, ~${m.latencySavedMs} ms saved` : ''}`);
  if (m.hedgedCalls > 0) out(`  hedging            ${m.hedgedCalls} hedge call(s) started`);
  if (m.waitedMs > 0) out(`  waited             ${m.waitedMs} ms for cooling-down or rate-limited providers`);
  out(`  processing time    ${m.processingTimeMs} ms${m.queuedMs !== undefined ? ` (${m.queuedMs} ms of it waiting for a worker)` : ''}`);
  out(`  tokens             ${m.tokensIn} in / ${m.tokensOut} out`);
  out(`  cost               $${m.costUsd.toFixed(6)}`);
  for (const p of m.providers) {
    out(`    - ${p.provider}:${p.model}  ${p.status}${p.errorType ? ` (${p.errorType})` : ''}  ${p.tokensIn}/${p.tokensOut} tokens  ${Math.round(p.latencyMs)} ms  $${p.costUsd.toFixed(6)}`);
  }
  if (emulated) out('\n  note: answers come from the local provider emulator (no API keys set), not from real models.');
  out(`\nWeb UI: ${webUiUrl}`);
}

/** The prompt of `run`: `-p <text>`, or `--prompt-file <path>` (`-`: standard input); exactly one of them. */
async function promptFrom(o: Record<string, unknown>): Promise<string> {
  const text = o['prompt'] as string | undefined;
  const file = o['promptFile'] as string | undefined;
  if (text !== undefined) return text;
  if (file === undefined) throw new UsageError('run: give the prompt with -p <text>, --prompt-file <path>, or --prompt-file - to read standard input');
  let content: string;
  try {
    content = file === '-' ? await readStdin() : readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--prompt-file: cannot read ${file === '-' ? 'standard input' : `"${file}"`}: ${(err as Error).message}`);
  }
  // The file's text as it is (its length counts against the 200,000-character limit), without a UTF-8 byte-order mark.
  return content.startsWith('\uFEFF') ? content.slice(1) : content;
}

export function buildCli(): Command {
  // exitOverride before any subcommand exists, so every command inherits it: commander's errors come
  // back as CommanderError and main() chooses the exit code (usage errors: 2).
  const program = new Command('orchestrator').description('Durable multi-LLM orchestration on Temporal').showHelpAfterError().exitOverride();
  program.addHelpText('after', '\nExit codes: 0 ok, 1 the request or command failed (typed error on stderr), 2 usage error.');

  program
    .command('run')
    .description('send one request through the orchestrateRequest workflow')
    .addOption(new Option('-p, --prompt <text>', 'the prompt').conflicts('promptFile'))
    .option('--prompt-file <path>', 'read the prompt from a file ("-": standard input), e.g. for long prompts')
    .requiredOption('-t, --task-type <type>', 'task type, e.g. code_generation')
    .requiredOption('-u, --user <id>', 'user id')
    .option('--consensus', 'require consensus across providers')
    .option('--min-providers <n>', 'minimum providers that must answer', intArg('--min-providers'))
    .addOption(new Option('--complexity <level>', 'override complexity').choices(ComplexitySchema.options))
    .option('--provider <selector...>', 'explicit providers, e.g. openai anthropic:claude-sonnet-4-6')
    .option('--system <text>', 'system prompt')
    .option('--temperature <t>', 'sampling temperature', floatArg('--temperature'))
    .option('--max-tokens <n>', 'max output tokens', intArg('--max-tokens'))
    .option('--request-id <id>', 'idempotency key: the same id never runs twice')
    .option('--no-wait', 'start and print the workflow id without waiting')
    .option('--json', 'print the result as JSON')
    .action(async (o: Record<string, unknown>) => {
      const request: OrchestrateRequest = {
        prompt: await promptFrom(o),
        taskType: o['taskType'] as string,
        userId: o['user'] as string,
        ...(o['consensus'] === true && { requireConsensus: true }),
        ...(o['minProviders'] !== undefined && { minProviders: o['minProviders'] as number }),
        ...(o['complexity'] !== undefined && { complexityOverride: o['complexity'] as OrchestrateRequest['complexityOverride'] & string }),
        ...(o['provider'] !== undefined && { providers: o['provider'] as string[] }),
        ...(o['system'] !== undefined && { systemPrompt: o['system'] as string }),
        ...(o['temperature'] !== undefined && { temperature: o['temperature'] as number }),
        ...(o['maxTokens'] !== undefined && { maxTokens: o['maxTokens'] as number }),
        ...(o['requestId'] !== undefined && { requestId: o['requestId'] as string }),
      };
      await withClient(async (client) => {
        const started = await client.start(request);
        if (o['wait'] === false) {
          console.log(o['json'] ? JSON.stringify({ workflowId: started.workflowId, requestId: started.requestId }) : started.workflowId);
          return;
        }
        const result = await client.getResult(started.workflowId);
        if (o['json']) console.log(JSON.stringify(result, null, 2));
        else printResult(result, client.webUiUrl(started.workflowId), false);
      });
    });

  program
    .command('status')
    .description('show a request workflow and, when finished, its result')
    .argument('<workflowId>')
    .option('--json', 'print as JSON')
    .action(async (workflowId: string, o: { json?: boolean }) => {
      await withClient(async (client) => {
        const summary = await client.describe(workflowId);
        const result = summary.status === 'COMPLETED' ? await client.getResult(workflowId) : null;
        if (o.json) {
          console.log(JSON.stringify({ ...summary, result }, null, 2));
          return;
        }
        console.log(`${summary.workflowId}  ${summary.status}  task=${summary.taskType ?? '-'} user=${summary.userId ?? '-'} complexity=${summary.complexity ?? '-'}`);
        if (result) printResult(result, client.webUiUrl(workflowId), false);
        else console.log(`Web UI: ${client.webUiUrl(workflowId)}`);
      });
    });

  program
    .command('feedback')
    .description("rate a finished request's answer (0 = wrong/useless .. 1 = right/great); routing learns from it")
    .argument('<workflowId>')
    .argument('<score>', 'a number in [0, 1]', floatArg('score'))
    .option('--comment <text>', 'what was wrong or right')
    .option('--source <who>', 'who rates, e.g. cli:alice', 'cli')
    .action(async (workflowId: string, score: number, o: { comment?: string; source: string }) => {
      await withClient(async (client) => {
        const stored = await client.submitFeedback({ workflowId, score, source: o.source, ...(o.comment !== undefined && { comment: o.comment }) });
        console.log(`feedback ${stored.id} recorded on ${workflowId} (score ${score})`);
      });
    });

  program
    .command('list')
    .description('list request workflows (newest first)')
    .option('-q, --query <query>', 'visibility query, e.g. \'UserId = "u1" AND Complexity = "complex"\'')
    .option('-n, --limit <n>', 'how many', intArg('--limit'), 20)
    .option('--json', 'print as JSON')
    .action(async (o: { query?: string; limit: number; json?: boolean }) => {
      await withClient(async (client) => {
        const rows = await client.list({ limit: o.limit, ...(o.query && { query: o.query }) });
        if (o.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        for (const r of rows) {
          console.log(`${r.startTime.toISOString()}  ${r.status.padEnd(10)} ${r.workflowId}  task=${r.taskType ?? '-'} user=${r.userId ?? '-'} complexity=${r.complexity ?? '-'} status=${r.requestStatus ?? '-'}`);
        }
        if (rows.length === 0) console.log('no request workflows found');
      });
    });

  program
    .command('replay')
    .description('replay workflow histories against the current workflow code: OK, or the nondeterminism and the event where it diverged')
    .argument('<source...>', 'history JSON files (temporal workflow show --output json) and/or workflow ids (fetched from the server)')
    .option('--json', 'print the report as JSON')
    .action(async (sources: string[], o: { json?: boolean }) => {
      // Loaded on use (the worker SDK is heavy); the SDK's own logs would drown the report.
      const [{ DefaultLogger, Runtime }, replay] = await Promise.all([import('@temporalio/worker'), import('./replay')]);
      Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
      const needsServer = sources.some((s) => !existsSync(s) && !s.endsWith('.json'));
      const run = async (client?: OrchestratorClient) => replay.replayHistories({ sources, ...(client && { client: client.client }) });
      const report = needsServer ? await withClient(run) : await run();
      if (o.json) console.log(JSON.stringify(report, null, 2));
      else replay.formatReplayReport(report, (line) => console.log(line));
      if (!report.ok) throw new ReplayFailed(report.results.filter((r) => !r.ok).length, report.results.length);
    });

  addRoutingCommands(program);
  addImprovementCommands(program);
  addKeysCommands(program);
  addPayloadKeysCommands(program);
  addConversationsCommands(program);
  addUsersCommands(program);
  addReportCommands(program);
  addAnalyticsCommands(program);
  addPluginsCommands(program);
  return program;
}

/** Some histories did not replay (the report, on stdout, says which and why): exit code 1. */
class ReplayFailed extends Error {
  override readonly name = 'ReplayFailed';
  constructor(failed: number, total: number) {
    super(`${failed} of ${total} histories did not replay`);
  }
}

/** What a failure prints (stderr) and the exit code it gets (see ExitCode). */
export function describeFailure(err: unknown): { message: string | null; code: ExitCode } {
  // Commander has printed its own message already; help and --version end with exitCode 0.
  if (err instanceof CommanderError) return { message: null, code: err.exitCode === 0 ? ExitCode.ok : ExitCode.usage };
  if (err instanceof ReplayFailed) return { message: `replay: ${err.message}`, code: ExitCode.failure };
  if (err instanceof DoctorFailed) return { message: err.message, code: ExitCode.failure };
  if (err instanceof UsageError) return { message: `usage error: ${err.message} (see --help)`, code: ExitCode.usage };
  if (err instanceof OrchestratorError || err instanceof ImprovementError || err instanceof ApiKeyError) return { message: `${err.code}: ${err.message}`, code: ExitCode.failure };
  return { message: `error: ${(err as Error).message}`, code: ExitCode.failure };
}

/** Run the CLI on `argv`; resolves to its exit code (nothing thrown). */
export async function main(argv: readonly string[] = process.argv): Promise<ExitCode> {
  try {
    await buildCli().parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    const { message, code } = describeFailure(err);
    if (message !== null) console.error(message);
    return code;
  }
}

if (require.main === module) {
  exitQuietlyOnBrokenPipe();
  void main().then((code) => {
    // On success the process ends by itself once its connections are closed (stdout fully written).
    if (code !== ExitCode.ok) process.exit(code);
  });
}
