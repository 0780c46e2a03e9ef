/**
 * What an example application needs to run on its own: a worker in this process (startWorker, with
 * the example's configuration and `setup`) and a client for it (OrchestratorClient).
 *
 * Each example gets a task queue (`example-<name>`), a routing-policy workflow
 * (`routing-policy-example-<name>`) and a SQLite database of its own, so a `npm run worker` polling
 * the same Temporal server never takes its requests (it would lack the example's evaluator) and the
 * example's routing rules never become a version of the main routing policy.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrchestratorClient, type OrchestrationMetadata, type OrchestrationResult } from '../../client';
import { loadEnv } from '../../src/config/env';
import type { Config } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { PROJECT_ROOT } from '../../src/project-root';
import type { WorkerRuntime } from '../../src/runtime';
import { startWorker } from '../../worker';

/** One request of an example: what was asked, the agreed answer and its metadata. */
export interface Step {
  prompt: string;
  response: string;
  metadata: OrchestrationMetadata;
}

export interface ExampleWorkerOptions {
  /** Names the task queue, the routing-policy workflow and the default database. */
  name: string;
  /** Appended to the task queue and routing-policy workflow names: runs side by side on one server (tests). */
  instance?: string;
  config: Config;
  /** Default `file:<repo>/.data/examples/<name>.db`. */
  databaseUrl?: string;
  /** TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, provider API keys, LOG_LEVEL. Default: process.env. */
  environment?: NodeJS.ProcessEnv;
  /** Extend the worker before it polls: complexity evaluators, consensus strategies, metric collectors. */
  setup?: (runtime: WorkerRuntime) => void | Promise<void>;
  /** The folder whose `plugins/` subfolder is scanned for plugins (src/plugins). Default: the folder of CONFIG_PATH. */
  pluginDir?: string;
  /** Route the Temporal SDK's logs into the logger (Runtime.install, once per process). Default true. */
  installLogger?: boolean;
}

export interface ExampleWorker {
  client: OrchestratorClient;
  runtime: WorkerRuntime;
  taskQueue: string;
  routingPolicyWorkflowId: string;
  databaseUrl: string;
  /** The providers of this answer that the local emulator served (development answers, not real models). */
  emulatedIn(result: OrchestrationResult): string[];
  /** Stop polling, close the client, the worker and its runtime. */
  close(): Promise<void>;
}

export function defaultDatabaseUrl(name: string): string {
  return `file:${join(PROJECT_ROOT, '.data', 'examples', `${name}.db`)}`;
}

export async function startExampleWorker(options: ExampleWorkerOptions): Promise<ExampleWorker> {
  const environment = options.environment ?? process.env;
  const databaseUrl = options.databaseUrl ?? defaultDatabaseUrl(options.name);
  if (databaseUrl.startsWith('file:')) mkdirSync(dirname(sqlitePath(databaseUrl)), { recursive: true });
  const env = loadEnv({
    ...environment,
    DATABASE_URL: databaseUrl,
    // Never the ports of a worker already running here: metrics on any free port, no SDK metrics.
    METRICS_PORT: environment['METRICS_PORT'] ?? '0',
    METRICS_SDK_PORT: environment['METRICS_SDK_PORT'] ?? 'off',
  });
  const suffix = options.instance ? `-${options.instance}` : '';
  const taskQueue = `example-${options.name}${suffix}`;
  const routingPolicyWorkflowId = `routing-policy-example-${options.name}${suffix}`;
  const started = await startWorker({
    env,
    config: options.config,
    // Quiet unless asked: the example prints its own readable output.
    logger: createLogger(environment['LOG_LEVEL'] ?? 'error', `example-${options.name}`),
    taskQueue,
    // Providers with a key in `environment` go to the real API (emulator.mode auto), the others to the emulator.
    runtime: { routingPolicyWorkflowId, emulatorPort: 0, secrets: environment },
    ensureSchedule: false,
    installLogger: options.installLogger ?? true,
    ...(options.setup && { setup: options.setup }),
    ...(options.pluginDir !== undefined && { pluginDir: options.pluginDir }),
  });
  // A worker that stops on its own (lost connection, fatal error) fails what waits on it.
  const state: { failure: Error | null } = { failure: null };
  const running = started.run().catch((err: unknown) => {
    state.failure = err instanceof Error ? err : new Error(String(err));
  });
  const { runtime } = started;
  let client: OrchestratorClient | null = null;
  try {
    client = await OrchestratorClient.connect({ env, config: options.config, taskQueue });
    // The routing-policy workflow records the example's rules as a version once this worker polls:
    // wait a moment for it, so answers name a real policy version (the rules are the same before).
    for (const until = Date.now() + 10_000; runtime.policyCache.current().version === 0 && Date.now() < until && state.failure === null; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await runtime.policyCache.refresh();
    }
    if (state.failure) throw state.failure;
  } catch (err) {
    await client?.close();
    if (!state.failure) started.worker.shutdown();
    await running;
    throw err;
  }
  const connected = client;
  return {
    client: connected,
    runtime,
    taskQueue,
    routingPolicyWorkflowId,
    databaseUrl,
    emulatedIn: (result) => result.metadata.providersUsed.filter((p) => runtime.emulatedProviders.includes(p)),
    async close() {
      await connected.close();
      if (!state.failure) started.worker.shutdown();
      await running;
      if (state.failure) throw state.failure;
    },
  };
}

function sqlitePath(url: string): string {
  const path = url.slice('file:'.length);
  return path.startsWith('//') ? fileURLToPath(url) : path;
}
