/**
 * The product description's facade, in TypeScript:
 *
 *   const framework = await AIOrchestrationFramework.fromConfig('config.yaml');
 *   const { response, metadata } = await framework.processRequest({ prompt, taskType: 'code_generation', userId: 'u1' });
 *
 * Each call is a durable Temporal workflow run by a worker (`npm run worker`).
 */
import { loadEnv, type Env } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import type { Config } from '../src/config/schema';
import type { OrchestrateRequest, OrchestrationResult } from '../src/types';
import type { RoutingRuleInput } from '../src/routing/policy';
import { OrchestratorClient, type StartedRequest } from './orchestrator-client';
import type { EraseUserResult } from './erasure';
import { setRule, showRouting, type RoutingChangeResult, type RoutingView } from './routing';
import type { MetricsCollector } from '../src/metrics';
import { EventHooks, type EventHook, type OrchestratorEventName } from '../src/hooks';
import type { StartedWorker, StartWorkerOptions } from '../worker';
import type { DoctorReport } from '../src/doctor';
import type { WriteReportResult } from '../src/report';
import type { Analytics, AnalyticsWindowOptions, ExportOptions, ExportResult, PerformanceMetrics, PerformanceMetricsOptions, ProviderComparison } from '../src/analytics';

export class AIOrchestrationFramework {
  /** Collectors for the workers this framework object starts (startWorker), by name. */
  private readonly metricsCollectors = new Map<string, MetricsCollector>();
  private readonly workers = new Set<StartedWorker>();
  /** Event hooks for the workers this framework object starts, in subscription order. */
  private readonly eventHooks: { name: OrchestratorEventName; hook: EventHook<never>; offs: Map<StartedWorker, () => void> }[] = [];

  private constructor(
    readonly config: Config,
    readonly client: OrchestratorClient,
    private readonly env: Env,
  ) {}

  static async fromConfig(path: string, options: { env?: Env } = {}): Promise<AIOrchestrationFramework> {
    const config = loadConfig(path);
    const env = options.env ?? loadEnv();
    const client = await OrchestratorClient.connect({ config, env });
    return new AIOrchestrationFramework(config, client, env);
  }

  processRequest(request: OrchestrateRequest): Promise<OrchestrationResult> {
    return this.client.processRequest(request);
  }

  start(request: OrchestrateRequest): Promise<StartedRequest> {
    return this.client.start(request);
  }

  /**
   * Add a routing rule at run time (or replace the one with the same id or task type and
   * complexity): a signal to the routing-policy workflow, validated there, recorded as a new
   * version. Workers plan with it within seconds.
   */
  addRoutingRule(rule: RoutingRuleInput, options: { source?: string; reason?: string } = {}): Promise<RoutingChangeResult> {
    return setRule({ client: this.client.client }, { rule, source: options.source ?? 'sdk', reason: options.reason ?? 'rule added through the SDK' });
  }

  /** The current routing policy, its version history and statistics. */
  routing(): Promise<RoutingView> {
    return showRouting({ client: this.client.client });
  }

  /** Rate an answer (score in [0, 1]); routing learns from it. */
  submitFeedback(input: { workflowId: string; score: number; comment?: string }): Promise<{ id: string; interactionId: string }> {
    return this.client.submitFeedback(input);
  }

  /** Erase everything stored for a user (right to erasure); counts per kind of what was removed. */
  eraseUser(userId: string): Promise<EraseUserResult> {
    return this.client.eraseUser(userId);
  }

  /**
   * Performance of the requests that completed in the last `timeWindowHours` (from DATABASE_URL):
   * requests, success rate, mean/p50/p95 latency, tokens, cost, consensus agreement, feedback, and the
   * best provider (criterion in the result). See src/analytics/metrics.ts for each figure's definition.
   */
  async getPerformanceMetrics(options: PerformanceMetricsOptions): Promise<PerformanceMetrics> {
    return this.withAnalytics((a) => a.getPerformanceMetrics(options));
  }

  /** Per provider and model: calls, success rate, latency percentiles, cost per request, quality, share of traffic. */
  async getProviderComparison(options: AnalyticsWindowOptions): Promise<ProviderComparison> {
    return this.withAnalytics((a) => a.getProviderComparison(options));
  }

  /**
   * Stream the interactions and provider calls of the last `days` to `path` ('csv' or 'json' Lines);
   * prompts and answers only with `includeText: true`. Resolves to the row counts.
   */
  async exportMetrics(path: string, options: ExportOptions): Promise<ExportResult> {
    return this.withAnalytics((a) => a.exportMetrics(path, options));
  }

  private async withAnalytics<T>(fn: (analytics: Analytics) => Promise<T>): Promise<T> {
    const { openAnalytics } = await import('../src/analytics');
    const analytics = openAnalytics(this.env.DATABASE_URL);
    try {
      return await fn(analytics);
    } finally {
      await analytics.close();
    }
  }

  /**
   * A metrics collector `{ name, collect(event) }`: it gets every metric event ({ name, value, tags },
   * the Prometheus metric names of src/metrics/definitions.ts) after each request and provider call,
   * in the worker process, never in workflow code. Metrics are recorded where the work runs: this
   * applies to the workers started through this object (`startWorker`), those running now and
   * those started later; a worker started elsewhere registers collectors in runWorker's `setup`
   * (`runtime.metrics.addCollector`). A collector that throws, rejects or is slow is logged and
   * counted (orchestrator_metrics_collector_failures_total) and never fails or delays a request.
   * Nothing is collected when framework.enable_metrics is false.
   */
  addMetricsCollector(collector: MetricsCollector): void {
    if (typeof collector?.name !== 'string' || collector.name === '' || typeof collector.collect !== 'function') {
      throw new TypeError('addMetricsCollector: a collector is { name: string, collect(event: { name, value, tags }) }');
    }
    this.metricsCollectors.set(collector.name, collector);
    for (const worker of this.workers) worker.runtime.metrics.addCollector(collector);
  }

  /**
   * An event hook (README "Event hooks"): `framework.on('request.completed', (e) => ...)` gets the
   * worker's typed events, in the worker process, after the emitting activity's result is decided,
   * each call within hooks.timeout_ms. Like collectors, it applies to the workers started through
   * this object (running now and started later), under the source `framework`; a worker started
   * elsewhere subscribes in runWorker's `setup` (`runtime.hooks.on`). Returns its unsubscribe.
   */
  on<N extends OrchestratorEventName>(name: N, hook: EventHook<N>): () => void {
    const entry = { name, hook: hook as EventHook<never>, offs: new Map<StartedWorker, () => void>() };
    // Checked (name, function) by the first subscription, before it is kept.
    for (const worker of this.workers) entry.offs.set(worker, worker.runtime.hooks.on(name, hook, { source: 'framework' }));
    if (this.workers.size === 0) assertHook(name, hook);
    this.eventHooks.push(entry);
    return () => {
      const i = this.eventHooks.indexOf(entry);
      if (i >= 0) this.eventHooks.splice(i, 1);
      for (const off of entry.offs.values()) off();
      entry.offs.clear();
    };
  }

  /**
   * Start a worker in this process with this framework's config, environment, metrics collectors
   * and event hooks; `run()` polls until `worker.shutdown()` (or SIGINT/SIGTERM).
   */
  async startWorker(options: Omit<StartWorkerOptions, 'config' | 'env' | 'collectors'> = {}): Promise<StartedWorker> {
    const { startWorker } = await import('../worker');
    const started = await startWorker({ ...options, config: this.config, env: this.env, collectors: [...this.metricsCollectors.values()] });
    this.workers.add(started);
    for (const entry of this.eventHooks) entry.offs.set(started, started.runtime.hooks.on(entry.name, entry.hook as EventHook, { source: 'framework' }));
    const run = started.run.bind(started);
    started.run = async () => {
      try {
        await run();
      } finally {
        this.workers.delete(started);
        for (const entry of this.eventHooks) entry.offs.delete(started);
      }
    };
    return started;
  }

  /**
   * The connection tests of `npm run cli -- doctor`: Temporal, namespace and search attributes, a
   * polling worker, database and migrations, each enabled provider, the embedding model, Redis,
   * the improvement schedule, the routing-policy workflow, payload keys. Each check is PASS, FAIL
   * (with advice) or SKIP (with why); `ok` is true when none failed. Never throws.
   */
  async diagnose(options: { timeoutMs?: number } = {}): Promise<DoctorReport> {
    const { runDoctor } = await import('../src/doctor');
    return runDoctor({ env: this.env, config: this.config, ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) });
  }

  /** Write the HTML report with charts of the last `hours` (default 24) to `out` (default report.html); same as `npm run cli -- report`. */
  async writeReport(options: { hours?: number; until?: Date; out?: string } = {}): Promise<WriteReportResult> {
    const { writeReport } = await import('../src/report');
    return writeReport({ databaseUrl: this.env.DATABASE_URL, ...options });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The checks EventHooks.on makes, for a hook kept before any worker exists. */
function assertHook(name: string, hook: unknown): void {
  new EventHooks().on(name as OrchestratorEventName, hook as EventHook);
}
