/**
 * `users` and `retention` commands for the orchestrator CLI (client/cli.ts calls
 * addUsersCommands(program)):
 *   users erase <userId> [--batch-size N] [--json]   erase everything stored for a user (right to erasure)
 *   retention run [--json]                            one retention sweep now (as the schedule runs it)
 * Both run as workflows on the worker (it holds the database, the cache and the payload keys) and
 * print what they removed, per kind. Erasing twice is safe: the second run reports zeros.
 */
import type { Command } from 'commander';
import type { ErasureCounts, RetentionCounts } from '../src/retention/constants';
import type { EraseUserResult } from './erasure';
import type { OrchestratorClient } from './orchestrator-client';
import type { RetentionWorkflowResult } from '../workflows/retention';
import { intArg } from './cli-args';

export interface UsersCliOptions {
  /** Erase a user (default: OrchestratorClient.eraseUser through TEMPORAL_ADDRESS). */
  erase?: (userId: string, options: { batchSize?: number }) => Promise<EraseUserResult>;
  /** Run one retention sweep (default: a manual retentionWorkflow through TEMPORAL_ADDRESS). */
  runRetention?: () => Promise<RetentionWorkflowResult & { workflowId: string }>;
  out?: (line: string) => void;
}

async function withClient<T>(fn: (client: OrchestratorClient) => Promise<T>): Promise<T> {
  // Loaded on use, not at the top: `--help` and argument errors need none of this.
  const [{ loadEnv }, { loadConfig }, { OrchestratorClient }] = await Promise.all([import('../src/config/env'), import('../src/config/load'), import('./orchestrator-client')]);
  const env = loadEnv();
  const client = await OrchestratorClient.connect({ env, config: loadConfig(env.CONFIG_PATH) });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const ERASURE_LABELS: [keyof ErasureCounts, string][] = [
  ['interactions', 'interactions'],
  ['providerCalls', 'provider calls'],
  ['feedback', 'feedback'],
  ['conversations', 'conversations'],
  ['responseCache', 'response cache entries'],
  ['embeddings', 'cached embeddings'],
  ['usageLedgerDeleted', 'usage ledger rows (user scope, deleted)'],
  ['usageLedgerAnonymized', 'usage ledger rows (global, anonymized)'],
  ['apiKeys', 'API keys (deleted)'],
  ['workflowExecutions', 'Temporal executions (deleted)'],
];

const RETENTION_LABELS: [keyof RetentionCounts, string][] = [
  ['interactions', 'interactions'],
  ['providerCalls', 'provider calls'],
  ['feedback', 'feedback'],
  ['usageLedger', 'usage ledger rows'],
  ['responseCache', 'response cache entries'],
  ['embeddingCache', 'cached embeddings'],
];

export function addUsersCommands(program: Command, cli: UsersCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const erase =
    cli.erase ??
    (async (userId, options) => {
      // A bad user id is InvalidRequest before anything connects.
      (await import('../src/retention/user-id')).checkUserId(userId);
      return withClient((c) => c.eraseUser(userId, options));
    });
  const runRetention =
    cli.runRetention ??
    (() =>
      withClient(async (c) => {
        const [{ RETENTION_MANUAL_WORKFLOW_PREFIX, RETENTION_WORKFLOW_TYPE }, { TASK_QUEUE }] = await Promise.all([import('../src/retention/constants'), import('../src/constants')]);
        const workflowId = `${RETENTION_MANUAL_WORKFLOW_PREFIX}${new Date().toISOString().replace(/[-:.]/g, '')}`;
        const result = await c.client.workflow.execute<(input: { trigger: 'manual' }) => Promise<RetentionWorkflowResult>>(RETENTION_WORKFLOW_TYPE, {
          taskQueue: TASK_QUEUE,
          workflowId,
          args: [{ trigger: 'manual' }],
          staticSummary: 'retention: one sweep started by hand',
        });
        return { ...result, workflowId };
      }));

  const users = program.command('users').description("a user's stored data");
  users
    .command('erase')
    .description('erase everything stored for a user: interactions, provider calls, feedback, conversations, cache entries, embeddings, ledger details, API keys, Temporal histories')
    .argument('<userId>', 'the user')
    .option('--batch-size <n>', 'requests per batch (default 100)', intArg('--batch-size'))
    .option('--json', 'print the report as JSON')
    .action(async (userId: string, o: { batchSize?: number; json?: boolean }) => {
      const result = await erase(userId, { ...(o.batchSize !== undefined && { batchSize: o.batchSize }) });
      if (o.json) {
        out(JSON.stringify(result, null, 2));
        return;
      }
      out(`erased user data (workflow ${result.workflowId}, ${result.batches} batch(es)):`);
      for (const [key, label] of ERASURE_LABELS) out(`  ${String(result.counts[key]).padStart(8)}  ${label}`);
      if (result.pendingDeletions > 0) out(`  note: the server was still deleting ${result.pendingDeletions} execution(s) when the erasure ended; it finishes them.`);
      if (result.undecodablePayloads > 0) out(`  warning: ${result.undecodablePayloads} history payload(s) could not be decoded (a payload key missing?): embeddings of their texts may remain until retention.embedding_days.`);
    });

  program
    .command('retention')
    .description('retention of stored data (config.yaml retention:)')
    .command('run')
    .description('run one retention sweep now and print what it deleted')
    .option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }) => {
      const result = await runRetention();
      if (o.json) {
        out(JSON.stringify(result, null, 2));
        return;
      }
      out(`retention sweep ${result.workflowId}: older than ${result.days} day(s) (embeddings ${result.embeddingDays}), ${result.batches} batch(es) of up to ${result.batchSize}`);
      for (const [key, label] of RETENTION_LABELS) out(`  ${String(result.counts[key]).padStart(8)}  ${label}`);
    });
  return program;
}
