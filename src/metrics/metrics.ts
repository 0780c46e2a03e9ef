/**
 * The process's metrics: one prom-client registry with every metric of src/metrics/definitions.ts,
 * fed by metric events, and the user's collectors, which get every event after it is recorded.
 *
 * Recording never fails or slows a request: `emit` catches everything, and collectors are called
 * on a later tick (setImmediate), each in its own try/catch; a collector that throws, rejects, is
 * slow (an event taking longer than `slowCollectorMs`) or falls behind (more than
 * `maxPendingPerCollector` unsettled events: new events are dropped for it) is logged and counted
 * in `orchestrator_metrics_collector_failures_total`.
 *
 * `enabled: false` (framework.enable_metrics) gives an instance that records nothing: an empty
 * registry, no events, collectors never called.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../logger';
import { METRICS, type MetricDefinition } from './definitions';
import {
  cacheLookupEvent,
  circuitEvent,
  httpEvents,
  providerCallEvents,
  refusalEvent,
  requestEvents,
  type LabelBound,
  type MetricEvent,
  type MetricsCollector,
  type ProviderCallFact,
  type RefusalReason,
} from './events';
import type { InteractionRecord } from '../memory/repository';
import type { CircuitStatus } from '../resilience/circuit-breaker';

export interface MetricsOptions {
  /** framework.enable_metrics (default true). */
  enabled?: boolean;
  logger?: Pick<Logger, 'warn'>;
  /** Label values that are always kept as they are (configured providers, models, task types, strategies). */
  knownValues?: Partial<Record<'provider' | 'model' | 'task_type' | 'strategy' | 'error_type', Iterable<string>>>;
  /** Other distinct values a label may take before further ones read `other` (default 50). */
  labelCap?: number;
  /** Node.js process metrics (process_*, nodejs_*) in the registry (default true). */
  processMetrics?: boolean;
  /** An event a collector takes longer than this with counts as slow (default 1000 ms). */
  slowCollectorMs?: number;
  /** Unsettled events per collector before new ones are dropped for it (default 1000). */
  maxPendingPerCollector?: number;
  /** framework.name and framework.version, as orchestrator_info's labels. */
  info?: { name: string; version: string };
}

export interface Metrics {
  readonly enabled: boolean;
  /** The prom-client registry /metrics serves (empty when disabled). */
  readonly registry: Registry;
  /** Record events: metrics first, then (on a later tick) every collector. Never throws. */
  emit(events: readonly MetricEvent[]): void;
  /** A finished request, from the interaction persistInteraction stored. */
  request(record: InteractionRecord): void;
  /** One provider call attempt that went out. */
  providerCall(call: ProviderCallFact): void;
  cacheLookup(result: 'hit' | 'miss' | 'error'): void;
  refusal(reason: RefusalReason, provider: string | null): void;
  circuit(key: string, state: CircuitStatus): void;
  http(route: string, method: string, status: number, seconds: number): void;
  /** The routing policy version, read at each scrape (the policy cache's current version). */
  trackPolicyVersion(read: () => number): void;
  /** Register a collector (a second one with the same name replaces the first). */
  addCollector(collector: MetricsCollector): void;
  removeCollector(name: string): boolean;
  collectors(): string[];
  /** Resolves once every event emitted so far reached every collector (and their promises settled). */
  flush(): Promise<void>;
  /** The exposition text (what GET /metrics answers). */
  scrape(): Promise<string>;
}

type Instrument = { kind: 'counter'; m: Counter } | { kind: 'histogram'; m: Histogram } | { kind: 'gauge'; m: Gauge };

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.enabled === false) return disabledMetrics(registry);
  const logger = options.logger;
  const slowMs = options.slowCollectorMs ?? 1000;
  const maxPending = options.maxPendingPerCollector ?? 1000;
  const bound = labelBound(options.knownValues ?? {}, options.labelCap ?? 50);
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  let readPolicyVersion: (() => number) | null = null;
  const instruments = new Map<string, Instrument>();
  for (const def of Object.values(METRICS) as MetricDefinition[]) {
    const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
    if (def.kind === 'counter') instruments.set(def.name, { kind: 'counter', m: new Counter(common) });
    else if (def.kind === 'histogram') instruments.set(def.name, { kind: 'histogram', m: new Histogram({ ...common, buckets: [...(def.buckets ?? [])] }) });
    else if (def.name === METRICS.routingPolicyVersion.name) {
      instruments.set(def.name, {
        kind: 'gauge',
        m: new Gauge({
          ...common,
          collect() {
            if (!readPolicyVersion) return;
            try {
              this.set(readPolicyVersion());
            } catch {
              // The version is unknown right now: keep the last value.
            }
          },
        }),
      });
    } else instruments.set(def.name, { kind: 'gauge', m: new Gauge(common) });
  }
  const failures = instruments.get(METRICS.collectorFailures.name) as { kind: 'counter'; m: Counter };
  if (options.info) (instruments.get(METRICS.info.name) as { kind: 'gauge'; m: Gauge }).m.set({ name: options.info.name, version: options.info.version }, 1);

  const apply = (event: MetricEvent) => {
    const instrument = instruments.get(event.name);
    if (!instrument || !Number.isFinite(event.value)) return;
    if (instrument.kind === 'counter') {
      if (event.value > 0) instrument.m.inc(event.tags, event.value);
      else if (event.value === 0) instrument.m.inc(event.tags, 0);
    } else if (instrument.kind === 'histogram') instrument.m.observe(event.tags, event.value);
    else instrument.m.set(event.tags, event.value);
  };

  // Collectors: each with its own count of unsettled events.
  const registered = new Map<string, { collector: MetricsCollector; pending: number }>();
  const inFlight = new Set<Promise<void>>();
  const lastWarned = new Map<string, number>();
  const fail = (name: string, reason: 'error' | 'slow' | 'dropped', err?: unknown) => {
    try {
      failures.m.inc({ collector: name, reason });
      const now = Date.now();
      // One warning per collector and reason a minute: a broken collector does not flood the log.
      const key = `${name}\u0000${reason}`;
      if ((lastWarned.get(key) ?? 0) + 60_000 <= now) {
        lastWarned.set(key, now);
        logger?.warn({ collector: name, reason, ...(err !== undefined && { err: err instanceof Error ? err.message : typeof err === 'string' ? err : 'non-Error thrown' }) }, 'metrics collector failed; the request is unaffected');
      }
    } catch {
      // never throws
    }
  };
  const deliver = (entry: { collector: MetricsCollector; pending: number }, events: readonly MetricEvent[]): Promise<void> => {
    const name = entry.collector.name;
    const waits: Promise<void>[] = [];
    for (const event of events) {
      if (entry.pending >= maxPending) {
        fail(name, 'dropped');
        continue;
      }
      const started = performance.now();
      const settled = () => {
        if (performance.now() - started > slowMs) fail(name, 'slow');
      };
      try {
        // Each collector gets its own copy: one that mutates an event does not change what others see.
        const result = entry.collector.collect({ name: event.name, value: event.value, tags: { ...event.tags } });
        if (result instanceof Promise || (typeof result === 'object' && result !== null && 'then' in result)) {
          entry.pending += 1;
          waits.push(
            Promise.resolve(result).then(
              () => {
                entry.pending -= 1;
                settled();
              },
              (err: unknown) => {
                entry.pending -= 1;
                fail(name, 'error', err);
              },
            ),
          );
        } else settled();
      } catch (err) {
        fail(name, 'error', err);
      }
    }
    return Promise.all(waits).then(() => undefined);
  };

  const metrics: Metrics = {
    enabled: true,
    registry,
    emit(events) {
      try {
        for (const event of events) {
          try {
            apply(event);
          } catch (err) {
            logger?.warn({ metric: event.name, err: (err as Error).message }, 'metric not recorded');
          }
        }
        if (registered.size === 0 || events.length === 0) return;
        const targets = [...registered.values()];
        const delivery = new Promise<void>((resolve) => {
          setImmediate(() => {
            Promise.all(targets.map((t) => deliver(t, events))).then(
              () => resolve(),
              () => resolve(),
            );
          });
        });
        inFlight.add(delivery);
        void delivery.finally(() => inFlight.delete(delivery));
      } catch {
        // Metrics never fail a request.
      }
    },
    request(record) {
      metrics.emit(safe(() => requestEvents(record, bound)));
    },
    providerCall(call) {
      metrics.emit(safe(() => providerCallEvents(call, bound)));
    },
    cacheLookup(result) {
      metrics.emit([cacheLookupEvent(result)]);
    },
    refusal(reason, provider) {
      metrics.emit(safe(() => [refusalEvent(reason, provider, bound)]));
    },
    circuit(key, state) {
      metrics.emit(safe(() => [circuitEvent(key, state, bound)]));
    },
    http(route, method, status, seconds) {
      metrics.emit(httpEvents(route, method, status, seconds));
    },
    trackPolicyVersion(read) {
      readPolicyVersion = read;
    },
    addCollector(collector) {
      if (!collector || typeof collector.name !== 'string' || collector.name === '' || typeof collector.collect !== 'function') {
        throw new TypeError('a metrics collector is { name: string, collect(event) }');
      }
      registered.set(collector.name, { collector, pending: 0 });
    },
    removeCollector(name) {
      return registered.delete(name);
    },
    collectors() {
      return [...registered.keys()];
    },
    async flush() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    scrape() {
      return registry.metrics();
    },
  };
  return metrics;
}

function safe(build: () => MetricEvent[]): MetricEvent[] {
  try {
    return build();
  } catch {
    return [];
  }
}

function disabledMetrics(registry: Registry): Metrics {
  const none = () => undefined;
  return {
    enabled: false,
    registry,
    emit: none,
    request: none,
    providerCall: none,
    cacheLookup: none,
    refusal: none,
    circuit: none,
    http: none,
    trackPolicyVersion: none,
    addCollector: none,
    removeCollector: () => false,
    collectors: () => [],
    flush: () => Promise.resolve(),
    scrape: () => registry.metrics(),
  };
}

/**
 * Label values from configuration pass as they are; others are kept up to `cap` distinct values
 * per label (first come), then read `other`: a client sending ever new task types cannot grow the
 * registry without bound.
 */
export function labelBound(known: NonNullable<MetricsOptions['knownValues']>, cap: number): LabelBound {
  const allowed = new Map<string, Set<string>>();
  for (const [label, values] of Object.entries(known)) allowed.set(label, new Set(values ?? []));
  const seen = new Map<string, Set<string>>();
  return (label, value) => {
    if (allowed.get(label)?.has(value)) return value;
    let values = seen.get(label);
    if (!values) seen.set(label, (values = new Set()));
    if (values.has(value)) return value;
    if (values.size >= cap) return 'other';
    values.add(value);
    return value;
  };
}
