/**
 * The facts the worker records, turned into metric events: one event is one counter increment,
 * one histogram observation or one gauge value, named by its Prometheus metric
 * (src/metrics/definitions.ts) with its labels as tags. Pure functions: the request's events come
 * from what persistInteraction stores, a provider call's from what callProvider saw.
 */
import type { InteractionRecord } from '../memory/repository';
import type { CircuitStatus } from '../resilience/circuit-breaker';
import { METRICS } from './definitions';

export interface MetricEvent {
  /** A metric name from src/metrics/definitions.ts, e.g. `orchestrator_requests_total`. */
  name: string;
  /** The increment (counters), the observation (histograms: seconds, ratios) or the value (gauges). */
  value: number;
  /** The metric's labels. */
  tags: Record<string, string>;
}

/** A user's metrics collector: gets every metric event, in the worker process, after it is recorded. */
export interface MetricsCollector {
  name: string;
  collect(event: MetricEvent): void | Promise<void>;
}

/** Bounds a label's values: a known value always passes; other values up to `cap`, then `other`. */
export type LabelBound = (label: string, value: string) => string;

const ev = (name: string, value: number, tags: Record<string, string>): MetricEvent => ({ name, value, tags });

/** The message the workflow gives a call cancelled by early stop (workflows/request/fan-out.ts). */
const EARLY_STOP_MESSAGE = 'cancelled: the outcome was already decided';

/** A request's events, from the interaction persistInteraction stored. */
export function requestEvents(record: InteractionRecord, bound: LabelBound = (_l, v) => v): MetricEvent[] {
  const taskType = bound('task_type', record.taskType);
  const status = record.status;
  const events: MetricEvent[] = [
    ev(METRICS.requests.name, 1, {
      task_type: taskType,
      status,
      error_type: bound('error_type', record.errorType ?? 'none'),
      consensus_strategy: bound('strategy', record.consensusStrategy),
      routing_strategy: record.routingDecision ? 'performance_based' : 'static',
    }),
    ev(METRICS.requestDuration.name, Math.max(0, record.processingTimeMs) / 1000, { task_type: taskType, status }),
  ];
  const calls = [...record.providerCalls].sort((a, b) => a.callIndex - b.callIndex);
  let failovers = 0;
  let earlyStopped = 0;
  calls.forEach((call, i) => {
    const provider = bound('provider', call.provider);
    const model = bound('model', call.model);
    if (call.hedged) events.push(ev(METRICS.hedgedCalls.name, 1, { provider, model }));
    if (call.status === 'cancelled') {
      const reason = call.errorMessage === EARLY_STOP_MESSAGE ? 'early_stop' : 'hedge_lost';
      if (reason === 'early_stop') earlyStopped += 1;
      events.push(ev(METRICS.cancelledCalls.name, 1, { provider, model, reason }));
    }
    if (call.status === 'failed' && calls.slice(i + 1).some((later) => !later.hedged)) failovers += 1;
  });
  if (failovers > 0) events.push(ev(METRICS.failovers.name, failovers, { task_type: taskType }));
  if (earlyStopped > 0) events.push(ev(METRICS.earlyStops.name, 1, { task_type: taskType }));
  const escalated = record.result?.metadata.escalated ?? 0;
  if (escalated > 0) events.push(ev(METRICS.escalations.name, escalated, { task_type: taskType }));
  if (record.consensusApplied) {
    const strategy = bound('strategy', record.consensusStrategy);
    if (record.confidence !== null) events.push(ev(METRICS.consensusConfidence.name, record.confidence, { strategy }));
    if (record.agreement !== null) events.push(ev(METRICS.consensusAgreement.name, record.agreement, { strategy }));
  }
  return events;
}

/** One provider call attempt that went out, as callProvider saw it. */
export interface ProviderCallFact {
  provider: string;
  model: string;
  /** Which attempt of the activity (1 = first). */
  attempt: number;
  status: 'succeeded' | 'failed' | 'cancelled';
  errorType: string | null;
  durationMs: number;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
}

export function providerCallEvents(call: ProviderCallFact, bound: LabelBound = (_l, v) => v): MetricEvent[] {
  const provider = bound('provider', call.provider);
  const model = bound('model', call.model);
  const events: MetricEvent[] = [
    ev(METRICS.providerCalls.name, 1, { provider, model, status: call.status, error_type: bound('error_type', call.errorType ?? 'none') }),
    ev(METRICS.providerCallDuration.name, Math.max(0, call.durationMs) / 1000, { provider, model, status: call.status }),
  ];
  if (call.attempt > 1) events.push(ev(METRICS.providerRetries.name, 1, { provider, model }));
  if (call.status === 'succeeded') {
    events.push(ev(METRICS.tokens.name, call.tokensIn ?? 0, { provider, model, direction: 'in' }));
    events.push(ev(METRICS.tokens.name, call.tokensOut ?? 0, { provider, model, direction: 'out' }));
    events.push(ev(METRICS.cost.name, call.costUsd ?? 0, { provider, model }));
  }
  return events;
}

export type RefusalReason = 'quota' | 'budget' | 'rate_limit' | 'concurrency' | 'circuit_open';

export function refusalEvent(reason: RefusalReason, provider: string | null, bound: LabelBound = (_l, v) => v): MetricEvent {
  return ev(METRICS.refusals.name, 1, { reason, provider: provider === null ? '' : bound('provider', provider) });
}

export function cacheLookupEvent(result: 'hit' | 'miss' | 'error'): MetricEvent {
  return ev(METRICS.cacheLookups.name, 1, { result });
}

const CIRCUIT_VALUES: Record<CircuitStatus, number> = { closed: 0, half_open: 1, open: 2 };

/** A circuit key is `provider` or `provider:model`. */
export function circuitEvent(key: string, state: CircuitStatus, bound: LabelBound = (_l, v) => v): MetricEvent {
  const at = key.indexOf(':');
  const provider = at < 0 ? key : key.slice(0, at);
  const model = at < 0 ? '' : key.slice(at + 1);
  return ev(METRICS.circuitState.name, CIRCUIT_VALUES[state], { provider: bound('provider', provider), model: model === '' ? '' : bound('model', model) });
}

export function httpEvents(route: string, method: string, status: number, seconds: number): MetricEvent[] {
  return [ev(METRICS.httpRequests.name, 1, { route, method, status: String(status) }), ev(METRICS.httpDuration.name, seconds, { route, method })];
}
