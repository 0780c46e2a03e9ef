/**
 * Metrics (issue 13): the registry and its events (metrics.ts), the metric table
 * (definitions.ts), the /metrics server (server.ts). Imported by activities and the runtime in the
 * worker process, and by the gateway; never by workflow code.
 */
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import { createMetrics, type Metrics, type MetricsOptions } from './metrics';

export { createMetrics, labelBound, type Metrics, type MetricsOptions } from './metrics';
export { METRICS, registeredSeriesNames, type MetricDefinition } from './definitions';
export type { MetricEvent, MetricsCollector, ProviderCallFact, RefusalReason } from './events';
export { startMetricsServer, type MetricsServer } from './server';

/** The metrics of a process running this config: off when framework.enable_metrics is false; configured names always kept as labels. */
export function metricsFromConfig(config: Config, logger?: Pick<Logger, 'warn'>, extra: Partial<MetricsOptions> = {}): Metrics {
  const models = new Set<string>();
  for (const p of Object.values(config.models)) {
    models.add(p.default_model);
    for (const m of p.models) models.add(m);
  }
  const taskTypes = new Set<string>([...config.routing.rules.map((r) => r.task_type), ...Object.keys(config.consensus.task_types)]);
  const strategies = new Set<string>(['none', config.consensus.default_strategy, ...Object.values(config.consensus.task_types), ...Object.keys(config.consensus.strategies)]);
  return createMetrics({
    enabled: config.framework.enable_metrics,
    ...(logger && { logger }),
    info: { name: config.framework.name, version: config.framework.version },
    knownValues: { provider: Object.keys(config.models), model: models, task_type: taskTypes, strategy: strategies },
    ...extra,
  });
}
