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
import type { Config } from '../src/config/schema';
import { LOCAL_MODEL_ID, withLocalModelProviders } from './local-model-config';
import { TASK_QUEUE } from '../src/constants';
import { OrchestratorError } from '../src/errors';
import { createLogger } from '../src/logger';
import { createWorkerRuntime } from '../src/runtime';
import { workerConnectionOptions } from '../src/temporal/connection';
import { installTemporalLogger } from '../src/temporal/runtime-logger';
import { selectWorkflowSource } from '../src/temporal/workflow-bundle';
import { tracedWorkflowWorkerOptions, tracingFor } from '../src/tracing/tracing';
import { dataConverterFor } from '../src/temporal/data-converter';

async function main(): Promise<void> {
  const program = new Command('demo')
    .option('--prompt <text>', 'prompt to send', 'What is 17 * 23? Answer with the number and one sentence of explanation.')
    .option('--task-type <type>', 'task type', 'question_answering')
    .option('--user <id>', 'user id', 'demo-user')
    .option('--no-consensus', 'do not require consensus')
    .option('--local-model', 'ask the real local model (llama-server with SmolLM2-135M, started by scripts/demo.sh at LOCAL_MODEL_URL) instead of the configured providers')
    .parse(process.argv);
  const opts = program.opts<{ prompt: string; taskType: string; user: string; consensus: boolean; localModel?: boolean }>();
  if (opts.localModel && program.getOptionValueSource('prompt') === 'default') opts.prompt = LOCAL_MODEL_PROMPT;

  const env = loadEnv();
  const logger = createLogger(process.env['LOG_LEVEL'] ?? 'warn', 'demo');
  installTemporalLogger(logger);
  const loaded = loadConfig(env.CONFIG_PATH);
  const local = opts.localModel ? localModelSetup(loaded, opts.consensus) : null;
  const config = local?.config ?? loaded;
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
      dataConverter: dataConverterFor(env),
      // With OTEL_EXPORTER_OTLP_ENDPOINT set, the request's trace covers this worker too.
      ...tracedWorkflowWorkerOptions(tracingFor(env), workflowSource),
      activities: runtime.activities,
    });
    if (runtime.emulatedProviders.length > 0) {
      console.log(`No API keys set for: ${runtime.emulatedProviders.join(', ')}. These providers are served by the local provider emulator at ${runtime.emulatorUrl}.`);
    }
    if (local) console.log(`Local model: ${local.url} (${LOCAL_MODEL_ID}), providers ${local.providers.join(', ')}${opts.consensus ? ' (three samples: temperatures 0.5 / 0.8 / 1.1)' : ' (temperature 0)'}.`);
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
        ...(local && { providers: local.providers }),
      });
      const result = await client.getResult(started.workflowId);
      // The emulator note only when an emulated provider answered (with --local-model, a real model did).
      printResult(result, client.webUiUrl(started.workflowId), result.metadata.providersUsed.some((p) => runtime.emulatedProviders.includes(p)));
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

/** A question a 135M-parameter model answers well (the default 17 * 23 is beyond it). */
const LOCAL_MODEL_PROMPT = 'What is the capital of France? Answer with one word.';

/**
 * config.yaml plus openai_compatible providers at the local server (LOCAL_MODEL_URL, set by
 * scripts/demo.sh): one sample at temperature 0, or, with consensus, three samples at 0.5 / 0.8 / 1.1.
 * The request names these providers, so the routing rules are not consulted.
 */
function localModelSetup(config: Config, consensus: boolean): { config: Config; url: string; providers: string[] } {
  const url = process.env['LOCAL_MODEL_URL'];
  if (!url) throw new Error('--local-model needs LOCAL_MODEL_URL (run it as `npm run demo -- --local-model`, which starts the server with scripts/local-model.sh)');
  const samples = consensus
    ? [
        { name: 'local', temperature: 0.5 },
        { name: 'local_2', temperature: 0.8 },
        { name: 'local_3', temperature: 1.1 },
      ]
    : [{ name: 'local', temperature: 0 }];
  return { config: withLocalModelProviders(config, url, samples), url, providers: samples.map((s) => s.name) };
}

main().catch((err: unknown) => {
  console.error(err instanceof OrchestratorError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
});
