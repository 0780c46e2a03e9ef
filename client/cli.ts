/**
 * orchestrator CLI: run | status | list.
 *   npm run cli -- run --prompt "..." --task-type code_generation --user u1 [--consensus] [--json]
 *   npm run cli -- status <workflowId>
 *   npm run cli -- list --query 'TaskType = "code_generation"'
 */
import { Command, Option } from 'commander';
import { OrchestratorError } from '../src/errors';
import { ImprovementError } from '../src/improvement/errors';
import { ComplexitySchema, type OrchestrateRequest, type OrchestrationResult } from '../src/types';
import type { OrchestratorClient } from './orchestrator-client';
import { addImprovementCommands } from './improvement-cli';
import { addRoutingCommands } from './routing-cli';
import { floatArg, intArg } from './cli-args';

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
  out(`  processing time    ${m.processingTimeMs} ms`);
  out(`  tokens             ${m.tokensIn} in / ${m.tokensOut} out`);
  out(`  cost               $${m.costUsd.toFixed(6)}`);
  for (const p of m.providers) {
    out(`    - ${p.provider}:${p.model}  ${p.status}${p.errorType ? ` (${p.errorType})` : ''}  ${p.tokensIn}/${p.tokensOut} tokens  ${Math.round(p.latencyMs)} ms  $${p.costUsd.toFixed(6)}`);
  }
  if (emulated) out('\n  note: answers come from the local provider emulator (no API keys set), not from real models.');
  out(`\nWeb UI: ${webUiUrl}`);
}

export function buildCli(): Command {
  const program = new Command('orchestrator').description('Durable multi-LLM orchestration on Temporal').showHelpAfterError();

  program
    .command('run')
    .description('send one request through the orchestrateRequest workflow')
    .requiredOption('-p, --prompt <text>', 'the prompt')
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
        prompt: o['prompt'] as string,
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

  addRoutingCommands(program);
  addImprovementCommands(program);
  return program;
}

if (require.main === module) {
  buildCli()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      console.error(err instanceof OrchestratorError || err instanceof ImprovementError ? `${err.code}: ${err.message}` : `error: ${(err as Error).message}`);
      process.exit(1);
    });
}
