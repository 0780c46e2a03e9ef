/**
 * Demo run (called by `npm run demo` after the dev server is up, compiled: dist/scripts/demo.js): a worker in this process,
 * one sample request through orchestrateRequest, the answer with its metadata and Web UI link.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { printResult } from '../client/cli';
import { applyBaseConfig } from '../client/routing';
import { OrchestratorClient } from '../client/orchestrator-client';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import { TASK_QUEUE } from '../src/constants';
import { OrchestratorError } from '../src/errors';
import { createLogger } from '../src/logger';
import { createWorkerRuntime } from '../src/runtime';
import { workerConnectionOptions } from '../src/temporal/connection';
import { installTemporalLogger } from '../src/temporal/runtime-logger';
import { selectWorkflowSource, workflowWorkerOptions } from '../src/temporal/workflow-bundle';

async function main(): Promise<void> {
  const opts = new Command('demo')
    .option('--prompt <text>', 'prompt to send', 'What is 17 * 23? Answer with the number and one sentence of explanation.')
    .option('--task-type <type>', 'task type', 'question_answering')
    .option('--user <id>', 'user id', 'demo-user')
    .option('--no-consensus', 'do not require consensus')
    .parse(process.argv)
    .opts<{ prompt: string; taskType: string; user: string; consensus: boolean }>();

  const env = loadEnv();
  const logger = createLogger(process.env['LOG_LEVEL'] ?? 'warn', 'demo');
  installTemporalLogger(logger);
  const config = loadConfig(env.CONFIG_PATH);
  const client = await OrchestratorClient.connect({ env, config });
  // As a worker does: the routing policy comes from the routing-policy workflow (seeded from config.yaml).
  const runtime = await createWorkerRuntime({ config, env, logger, emulatorPort: 0, temporalClient: client.client }).catch(async (err: unknown) => {
    await client.close();
    throw err;
  });
  const connection = await NativeConnection.connect(workerConnectionOptions(env));
  try {
    const workflowSource = selectWorkflowSource(); // the prebuilt bundle when current (npm run build)
    logger.debug({ reason: workflowSource.reason }, 'workflow code');
    const worker = await Worker.create({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: TASK_QUEUE,
      ...workflowWorkerOptions(workflowSource),
      activities: runtime.activities,
    });
    if (runtime.emulatedProviders.length > 0) {
      console.log(`No API keys set for: ${runtime.emulatedProviders.join(', ')}. These providers are served by the local provider emulator at ${runtime.emulatorUrl}.`);
    }
    console.log(`Database: ${env.DATABASE_URL}   Temporal: ${env.TEMPORAL_ADDRESS} (namespace ${env.TEMPORAL_NAMESPACE})`);
    console.log(`\nRequest: "${opts.prompt}" (task ${opts.taskType}, user ${opts.user}${opts.consensus ? ', consensus required' : ''})`);
    await worker.runUntil(async () => {
      // Announce config.yaml's routing base (starts the routing-policy workflow on a fresh server) and
      // give this worker a moment to take its version, so the request records a real policy version.
      await applyBaseConfig({ client: client.client, taskQueue: TASK_QUEUE }, runtime.routingBase);
      for (const until = Date.now() + 5_000; runtime.policyCache.current().version === 0 && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 100));
        await runtime.policyCache.refresh();
      }
      const started = await client.start({
        prompt: opts.prompt,
        taskType: opts.taskType,
        userId: opts.user,
        requestId: `demo-${Date.now()}`,
        ...(opts.consensus && { requireConsensus: true }),
      });
      const result = await client.getResult(started.workflowId);
      printResult(result, client.webUiUrl(started.workflowId), runtime.emulatedProviders.length > 0);
      const stored = await runtime.memory.getInteraction(started.workflowId);
      console.log(`Stored: interaction ${stored ? `row with ${stored.providerCalls.length} provider call(s)` : 'NOT FOUND'} in ${env.DATABASE_URL}`);
      console.log(`\nFind requests: temporal workflow list --address ${env.TEMPORAL_ADDRESS} --query 'TaskType = "${opts.taskType}"'`);
      console.log('The dev server keeps running for the Web UI; stop it with: npm run stop');
    });
  } finally {
    await client.close();
    await connection.close();
    await runtime.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof OrchestratorError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
});
