/**
 * createTestOrchestrator(): the whole framework in a test, with nothing outside the process but a
 * Temporal server the kit starts itself.
 *
 *   - a Temporal test environment from @temporalio/testing: `local` (the Temporal CLI's dev server,
 *     every feature) or `time-skipping` (the Java SDK's test server: durable timers, retry backoffs,
 *     Retry-After waits, circuit cooldowns and deadlines pass in milliseconds);
 *   - a worker built by the project's own startWorker (worker.ts: createWorkerRuntime, the real
 *     activities, the real workflow code, payload encryption) on a private task queue, with a
 *     MockModelConnector for every enabled provider unless given (no API key, no emulator, no network);
 *   - a temporary SQLite database (migrated), deleted by close();
 *   - an OrchestratorClient: `processRequest` validates and runs a request exactly as in production.
 *
 * Works under Vitest and Jest (it imports neither).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { OrchestratorClient, type StartedRequest, type StartOptions } from '../../client/orchestrator-client';
import { ensureRoutingPolicyWorkflow, setRule } from '../../client/routing';
import type { RoutingChangeResult } from '../../client/routing';
import { startWorker, type StartedWorker } from '../../worker';
import { loadEnv, type Env } from '../config/env';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { SearchAttributes } from '../constants';
import { createLogger, type Logger } from '../logger';
import { PROJECT_ROOT } from '../project-root';
import type { ModelConnector } from '../providers/types';
import type { RoutingRuleInput } from '../routing/policy';
import type { WorkerRuntime } from '../runtime';
import { dataConverterFor } from '../temporal/data-converter';
import type { OrchestrateRequest, OrchestrationResult } from '../types';
import { MockModelConnector } from './mock-connector';
import { createServerClock, type ServerClock } from './server-clock';
import { findTestServer, type TestEnvironmentKind } from './servers';

export interface TestOrchestratorOptions {
  /** `local` (default): the Temporal CLI's dev server. `time-skipping`: the Java test server (see README: Testing your own code). */
  environment?: TestEnvironmentKind;
  /** The configuration: a Config, or the path of a config.yaml (default: this package's config.yaml). */
  config?: Config | string;
  /** Adjust the configuration (routing rules, resilience, consensus) before the worker starts. */
  configure?: (config: Config) => Config;
  /**
   * Connectors by provider name (a MockModelConnector, or any ModelConnector of your own). Every other
   * enabled provider gets a default MockModelConnector (`orchestrator.mock(name)` scripts it).
   */
  connectors?: Readonly<Record<string, ModelConnector>>;
  /**
   * Serve the providers not in `connectors` with the in-process provider emulator (the real SDK
   * connectors over HTTP, with its `[[emulate:...]]` fault directives) instead of mocks. Default false.
   */
  emulator?: boolean;
  /** Register your own complexity evaluators and consensus strategies (runWorker's `setup`). */
  setup?: (runtime: WorkerRuntime) => void | Promise<void>;
  /** Default: a fresh SQLite file in a temporary folder (removed by close()). */
  databaseUrl?: string;
  /** The server binary (default: see src/testing/servers.ts; TEMPORAL_CLI / TEMPORAL_TEST_SERVER). */
  serverPath?: string;
  /** The worker's log level (default `warn`). */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How often the worker re-reads the routing policy (default 500 ms, so addRoutingRule applies quickly). */
  policyRefreshMs?: number;
  /**
   * Time skipping only: the most server time that passes by itself between two steps of a test
   * (default TIME_SKIPPING_TICK_MS, 5 s). Skipping costs about 20 ms of real time per tick, so a
   * `kit.sleep` of a day takes minutes at 5 s: raise it for tests that skip hours (quota periods,
   * retention), keeping it below the shortest window or cooldown the test relies on.
   */
  timeSkippingTickMs?: number;
}

export interface TestOrchestrator {
  readonly environment: TestWorkflowEnvironment;
  readonly kind: TestEnvironmentKind;
  readonly config: Config;
  readonly env: Env;
  readonly databaseUrl: string;
  readonly taskQueue: string;
  /** The client SDK, on the environment's client (under time skipping, awaiting a result skips time). */
  readonly client: OrchestratorClient;
  readonly worker: StartedWorker;
  readonly runtime: WorkerRuntime;
  /** Start a request and wait for its answer, exactly as OrchestratorClient.processRequest in production. */
  processRequest(request: OrchestrateRequest): Promise<OrchestrationResult>;
  /** The mock connector of a provider (throws when that provider has a connector of your own, or none). */
  mock(provider: string): MockModelConnector;
  /** Add or replace a routing rule at run time (a signal to this orchestrator's routing-policy workflow), and wait until the worker plans with it. */
  addRoutingRule(rule: RoutingRuleInput, options?: { reason?: string }): Promise<RoutingChangeResult>;
  /** Server time: skips ahead under time skipping, real sleep on the local server. */
  sleep(ms: number): Promise<void>;
  /** The server's current time (epoch ms). */
  currentTimeMs(): Promise<number>;
  /** Stop the worker, the server, and remove the temporary database. Idempotent. */
  close(): Promise<void>;
}

/** Under time skipping, the most server time that passes on its own between two steps of a test (see createTestOrchestrator). */
export const TIME_SKIPPING_TICK_MS = 5_000;

export class TestOrchestratorError extends Error {
  override readonly name: string = 'TestOrchestratorError';
}

/** What the time-skipping test server cannot do, refused by the kit with this error instead of hanging or failing obscurely. */
export class UnsupportedInTimeSkipping extends TestOrchestratorError {
  override readonly name = 'UnsupportedInTimeSkipping';
}

/**
 * The Temporal SDK's process-wide runtime logs at INFO by default (every worker state change):
 * install one that logs warnings and errors, unless the process installed its own already.
 */
function quietSdkRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed (by the test's setup, another orchestrator, or the SDK itself): keep it.
  }
}

/**
 * The client SDK on the time-skipping server: what that server does not implement is refused with
 * UnsupportedInTimeSkipping naming the alternative, instead of an opaque gRPC error or a wait that
 * never ends.
 */
class TimeSkippingOrchestratorClient extends OrchestratorClient {
  override list(): Promise<never> {
    return Promise.reject(new UnsupportedInTimeSkipping("list(): the time-skipping test server has no visibility queries (search attributes are stored, not searchable); use environment: 'local'"));
  }

  override eraseUser(): Promise<never> {
    return Promise.reject(new UnsupportedInTimeSkipping("eraseUser(): erasure finds a user's workflows by the UserId search attribute, and the time-skipping test server has no visibility queries; use environment: 'local'"));
  }

  override start(input: OrchestrateRequest, options: StartOptions = {}): Promise<StartedRequest> {
    if (options.eager) return Promise.reject(new UnsupportedInTimeSkipping("start({ eager: true }): the time-skipping test server has no eager workflow start; use environment: 'local'"));
    return super.start(input, options);
  }
}

export async function createTestOrchestrator(options: TestOrchestratorOptions = {}): Promise<TestOrchestrator> {
  const kind = options.environment ?? 'local';
  const tickMs = options.timeSkippingTickMs ?? TIME_SKIPPING_TICK_MS;
  if (!Number.isFinite(tickMs) || tickMs < 100) throw new TestOrchestratorError(`timeSkippingTickMs must be a number of milliseconds >= 100 (got ${tickMs})`);
  if (kind !== 'local' && kind !== 'time-skipping') throw new TestOrchestratorError(`environment must be 'local' or 'time-skipping' (got ${JSON.stringify(kind)})`);
  const baseConfig = typeof options.config === 'string' || options.config === undefined ? loadConfig(options.config ?? path.join(PROJECT_ROOT, 'config.yaml')) : options.config;
  const configured = options.configure ? options.configure(baseConfig) : baseConfig;
  const config: Config = options.emulator ? { ...configured, emulator: { ...configured.emulator, mode: 'always' } } : configured;

  const given = options.connectors ?? {};
  const mocks = new Map<string, MockModelConnector>();
  const connectors: Record<string, ModelConnector> = {};
  for (const [name, provider] of Object.entries(config.models)) {
    if (!provider.enabled) continue;
    if (options.emulator && !given[name]) continue;
    const connector = given[name] ?? new MockModelConnector(name, { kind: provider.kind, models: [provider.default_model, ...provider.models] });
    connectors[name] = connector;
    if (connector instanceof MockModelConnector) mocks.set(name, connector);
  }
  for (const name of Object.keys(given)) {
    if (!config.models[name]?.enabled) throw new TestOrchestratorError(`connectors.${name}: no enabled provider "${name}" in the configuration's models (enabled: ${Object.entries(config.models).filter(([, p]) => p.enabled).map(([n]) => n).join(', ')})`);
  }

  const serverPath = findTestServer(kind, options.serverPath === undefined ? {} : { path: options.serverPath });
  const dir = mkdtempSync(path.join(tmpdir(), 'test-orchestrator-'));
  const databaseUrl = options.databaseUrl ?? `file:${path.join(dir, 'test.db')}`;
  // A payload key of its own: histories are encrypted as in production, and no checkout key is needed.
  const payloadKeys = `test:${randomBytes(32).toString('base64')}`;
  const envFor = (address: string) =>
    loadEnv({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default', PAYLOAD_KEYS: payloadKeys, LOG_LEVEL: options.logLevel ?? 'warn', METRICS_PORT: '0', METRICS_SDK_PORT: 'off' });
  const dataConverter = dataConverterFor(envFor('127.0.0.1:7233'));

  quietSdkRuntime();
  let environment: TestWorkflowEnvironment;
  try {
    environment =
      kind === 'local'
        ? await TestWorkflowEnvironment.createLocal({
            server: { executable: { type: 'existing-path', path: serverPath }, ip: '127.0.0.1', searchAttributes: Object.values(SearchAttributes), log: { format: 'pretty', level: 'never' } },
            client: { dataConverter },
          })
        : await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: serverPath } }, client: { dataConverter } });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new TestOrchestratorError(`could not start the ${kind} Temporal test server (${serverPath}): ${(err as Error).message}`);
  }

  if (kind === 'time-skipping') {
    // The test server cannot list search attributes (so the worker's own check cannot run) but registers them.
    try {
      await environment.connection.operatorService.addSearchAttributes({
        namespace: 'default',
        searchAttributes: Object.fromEntries(Object.values(SearchAttributes).map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
      });
    } catch (err) {
      await environment.teardown().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw new TestOrchestratorError(`the time-skipping test server refused the search attributes ${Object.values(SearchAttributes).map((k) => k.name).join(', ')}: ${(err as Error).message}`);
    }
  }
  const env = envFor(environment.address);
  const logger: Logger = createLogger(env.LOG_LEVEL, 'test-orchestrator');
  const taskQueue = `test-orchestrator-${randomUUID().slice(0, 8)}`;
  const routingPolicyWorkflowId = `routing-policy-${taskQueue}`;
  const clock: ServerClock | null = kind === 'time-skipping' ? createServerClock() : null;
  let worker: StartedWorker;
  try {
    // Time skipping is global: whenever a client awaits a result and nothing runs, the server jumps
    // to the earliest timer of any workflow. With the routing-policy workflow's 5-minute statistics
    // refresh and its 10-year run timeout as the only timers, time would leap minutes or years
    // between two requests (a circuit's window, a quota's day would end). Refreshing every tick (5 s
    // of server time by default) bounds every such jump to about a tick, and keeps its snapshot fresh.
    if (kind === 'time-skipping') await ensureRoutingPolicyWorkflow({ client: environment.client, taskQueue, workflowId: routingPolicyWorkflowId, workflowInput: { statsRefreshMs: tickMs } });
    worker = await startWorker({
      env,
      config,
      logger,
      taskQueue,
      // The SDK's runtime is the test environment's; schedules are not part of a request (and the time-skipping server has none).
      installLogger: false,
      ensureSchedule: false,
      ...(options.setup && { setup: options.setup }),
      runtime: {
        connectors,
        secrets: {},
        emulatorPort: 0,
        routingPolicyWorkflowId,
        policyRefreshMs: options.policyRefreshMs ?? 500,
        ...(clock && { clock }),
      },
    });
  } catch (err) {
    await environment.teardown().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const running = worker.run();
  // Surfaced at close(): a worker that stops on its own fails the requests that wait on it.
  running.catch(() => undefined);

  const client = kind === 'time-skipping' ? new TimeSkippingOrchestratorClient({ client: environment.client, config, env, taskQueue }) : new OrchestratorClient({ client: environment.client, config, env, taskQueue });
  let closed: Promise<void> | null = null;

  const orchestrator: TestOrchestrator = {
    environment,
    kind,
    config,
    env,
    databaseUrl,
    taskQueue,
    client,
    worker,
    runtime: worker.runtime,
    processRequest: (request) => client.processRequest(request),
    mock(provider) {
      const mock = mocks.get(provider);
      if (mock) return mock;
      const why = connectors[provider]
        ? 'uses a connector of your own, not a MockModelConnector'
        : options.emulator && config.models[provider]?.enabled
          ? 'is served by the emulator (emulator: true)'
          : `is not an enabled provider (mocked: ${[...mocks.keys()].join(', ') || 'none'})`;
      throw new TestOrchestratorError(`mock("${provider}"): provider "${provider}" ${why}`);
    },
    async addRoutingRule(rule, ruleOptions = {}) {
      const result = await setRule({ client: environment.client, taskQueue, workflowId: routingPolicyWorkflowId }, { rule, source: 'test', reason: ruleOptions.reason ?? 'rule added by a test' });
      if (result.status === 'accepted' || result.status === 'unchanged') {
        // The worker plans with it once its policy cache has read the new version.
        const deadline = Date.now() + 15_000;
        while (worker.runtime.policyCache.current().version < result.version) {
          if (Date.now() > deadline) throw new TestOrchestratorError(`the worker did not pick up routing version ${result.version} within 15 s`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      return result;
    },
    sleep: (ms) => environment.sleep(ms),
    currentTimeMs: () => environment.currentTimeMs(),
    close() {
      closed ??= (async () => {
        try {
          worker.worker.shutdown();
        } catch {
          // already stopping or stopped
        }
        try {
          await running;
        } finally {
          await environment.teardown();
          rmSync(dir, { recursive: true, force: true });
        }
      })();
      return closed;
    },
  };
  return orchestrator;
}
