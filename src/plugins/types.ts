/**
 * The plugin interface: one object a module exports (`export default definePlugin({...})`, or
 * `module.exports = {...}`, or a named export `plugin`). A plugin has a name and a version and may
 * contribute any of: connectors by provider kind, consensus strategies, complexity evaluators by
 * task type, routing strategies, event hooks and metrics collectors. They come from the plugin's
 * own fields, from what its `setup(context)` returns, or both.
 *
 * Plugins run in the worker (and the gateway's in-process worker) only, never in workflow code:
 * connectors in the provider-call activities, consensus strategies in the consensus activity,
 * evaluators and routing strategies in the planning activity, hooks and collectors in the worker.
 */
import type { ConsensusStrategy } from '../consensus/strategy';
import type { HookSubscriptions } from '../hooks/types';
import type { Logger } from '../logger';
import type { MetricsCollector } from '../metrics';
import type { ProviderErrorType } from '../providers/errors';
import type { ConnectorSettings } from '../providers/shared';
import type { ModelConnector } from '../providers/types';
import type { ComplexityEvaluator } from '../routing/complexity';
import type { RoutingStrategy } from '../routing/strategies';
import type { GenerateRequest } from '../types';

/** What a plugin connector is built from: `models.<provider>` of config.yaml (its key read from `api_key_env`). */
export interface PluginConnectorSettings extends ConnectorSettings {
  /** The provider kind (`models.<provider>.kind`), which this plugin provides. */
  kind: string;
}

/**
 * Helpers for classifying failures the way the built-in connectors do, so resilience (retries,
 * Retry-After, circuit breakers, failover) treats a plugin connector like any other. A connector
 * may throw anything: what is not made here is classified by the worker (a network error is a
 * retryable ProviderConnectionError, an unknown error a retryable ProviderServerError).
 */
export interface ConnectorTools {
  /** A failed HTTP response: 429 (with Retry-After / retry-after-ms headers), 408, 409, 5xx retryable; 401/403 auth; other 4xx bad request. */
  httpError(init: { model: string; status: number; message: string; headers?: Headers; code?: string | null; requestId?: string | null }): Error;
  /** A failure of a named type (retryable as that type is: ProviderRateLimited yes, ProviderBadRequest no, ...). */
  providerError(init: { model: string; type: ProviderErrorType; detail: string; status?: number | null; retryAfterMs?: number | null }): Error;
  /** A 2xx response whose body lacks what the connector needs (retryable). */
  malformed(model: string, detail: string): Error;
  /** Refuse (ProviderBadRequest, before any call) a model not configured for this provider. */
  assertSupportedModel(request: GenerateRequest): void;
}

/**
 * A connector factory for one provider kind. It is called once per enabled provider of that kind
 * at worker start. The connector's `generate` returns at least `content`, `tokensIn`, `tokensOut`;
 * `model`, `latencyMs` (measured when absent), `finishReason` ('stop'), `providerRequestId` and
 * `confidence` (null) are filled in when left out. Plugin kinds are never served by the emulator,
 * and their models need prices under `pricing` like the built-in kinds.
 */
export type PluginConnectorFactory = (settings: PluginConnectorSettings, tools: ConnectorTools) => PluginModelConnector;

/** A connector as a plugin writes it: `provider` and `kind` are set by the worker. */
export type PluginModelConnector = Omit<ModelConnector, 'provider' | 'kind' | 'generate'> & {
  generate(request: GenerateRequest, options?: Parameters<ModelConnector['generate']>[1]): Promise<PluginGenerateResult>;
};

export interface PluginGenerateResult {
  content: string;
  tokensIn: number;
  tokensOut: number;
  model?: string;
  latencyMs?: number;
  finishReason?: 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'error' | 'other';
  providerRequestId?: string | null;
  confidence?: number | null;
}

/** Everything a plugin may contribute. */
export interface PluginContributions {
  /** Connector factories by provider kind (`models.<name>.kind: <kind>`); a built-in kind cannot be replaced. */
  connectors?: Record<string, PluginConnectorFactory>;
  /** Consensus strategies by name (`consensus.default_strategy`, `consensus.task_types`, a request's `consensusStrategy`). */
  consensusStrategies?: Record<string, ConsensusStrategy>;
  /** Complexity evaluators by task type. */
  complexityEvaluators?: Record<string, ComplexityEvaluator>;
  /** Routing strategies by name (`routing.custom_strategies`). */
  routingStrategies?: Record<string, RoutingStrategy>;
  /** Event hooks by event name (src/hooks/types.ts). */
  hooks?: HookSubscriptions;
  /** Metrics collectors (get every metric event, src/metrics). */
  metricsCollectors?: MetricsCollector[];
}

/** A zod-like schema: anything with `safeParse` (the plugin's own zod, whatever its copy or version). */
export interface PluginConfigSchema<T = unknown> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

export interface PluginSetupContext<Settings = unknown> {
  /** The plugin's name. */
  name: string;
  /** `plugins.<name>` of config.yaml, parsed by `configSchema` (without a schema: `{}`). */
  config: Settings;
  /** The folder of the config file (relative paths in the plugin's settings are relative to it). */
  configDir: string;
  /** A logger that names the plugin. Never log prompts or answers at info level (src/privacy/log-text.ts). */
  logger: Logger;
}

export interface OrchestratorPlugin<Settings = unknown> extends PluginContributions {
  /** [a-z0-9_-], unique among the loaded plugins; its settings are `plugins.<name>`. */
  name: string;
  version: string;
  /** Validates `plugins.<name>` (a zod schema); errors name `plugins.<name>.<key>`. Without one, the plugin takes no settings. */
  configSchema?: PluginConfigSchema<Settings>;
  /** Runs once at worker start, after every plugin loaded and before anything is registered; may return more contributions. */
  setup?(context: PluginSetupContext<Settings>): void | PluginContributions | Promise<void | PluginContributions>;
  /** Runs when the worker stops (close connections, flush). */
  close?(): void | Promise<void>;
}

/** Identity, for type checking a plugin's object (and inferring its settings from the schema). */
export function definePlugin<Settings>(plugin: OrchestratorPlugin<Settings>): OrchestratorPlugin<Settings> {
  return plugin;
}

/** Where a loaded plugin came from. */
export type PluginOrigin = 'config' | 'folder' | 'code';

/** A loaded plugin as the start log and `orchestrator plugins` list it. */
export interface LoadedPluginInfo {
  name: string;
  version: string;
  origin: PluginOrigin;
  /** The module file it was loaded from (absent for plugins given in code). */
  source?: string;
  provides: {
    connectors: string[];
    consensusStrategies: string[];
    complexityEvaluators: string[];
    routingStrategies: string[];
    hooks: string[];
    metricsCollectors: string[];
  };
}
