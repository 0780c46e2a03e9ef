/**
 * Registration of loaded plugins into a worker's registries (connectors are built by
 * src/providers/registry.ts from `LoadedPlugins.connectors`). Called once per runtime, after every
 * plugin loaded and was set up (src/plugins/load.ts), before the worker polls. Every name was
 * checked for clashes while loading, so registering cannot fail half-way.
 */
import type { ConsensusRegistry } from '../consensus/strategy';
import type { EventHooks } from '../hooks';
import type { Metrics } from '../metrics';
import type { ComplexityEvaluatorRegistry } from '../routing/complexity';
import type { RoutingStrategyRegistry } from '../routing/strategies';
import type { LoadedPlugins } from './load';

export interface PluginTargets {
  evaluators: ComplexityEvaluatorRegistry;
  consensus: ConsensusRegistry;
  routingStrategies: RoutingStrategyRegistry;
  metrics: Metrics;
  /** The worker's event hooks (src/hooks). */
  hooks: Pick<EventHooks, 'subscribe'>;
}

export function registerPlugins(loaded: LoadedPlugins, targets: PluginTargets): void {
  const taken = new Set(targets.consensus.names());
  for (const [name, { plugin }] of loaded.consensusStrategies) {
    // The worker's own (judge, a strategy registered in code before) are not replaced silently.
    if (taken.has(name)) throw new Error(`plugin "${plugin}": consensus strategy "${name}" is already registered`);
  }
  for (const [name, { strategy }] of loaded.consensusStrategies) targets.consensus.registerStrategy(name, strategy);
  for (const [taskType, { evaluator }] of loaded.complexityEvaluators) targets.evaluators.register(taskType, evaluator);
  for (const [name, { strategy }] of loaded.routingStrategies) targets.routingStrategies.register(name, strategy);
  for (const { collector } of loaded.metricsCollectors) targets.metrics.addCollector(collector);
  for (const { plugin, subscriptions } of loaded.hooks) targets.hooks.subscribe(subscriptions, `plugin:${plugin}`);
}
