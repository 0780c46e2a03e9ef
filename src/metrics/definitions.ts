/**
 * Every metric this process exposes on /metrics: name, kind, help, labels and buckets, in one
 * table. Metric events (src/metrics/metrics.ts) name one of these; the Grafana dashboard's queries
 * use only these names (test/deploy/compose.test.ts compares them). Prometheus naming: base units
 * (`_seconds`, `_usd`), counters end in `_total`. Labels are bounded: provider, model, task type and
 * strategy come from configuration (an unknown value beyond a cap reads `other`), never user ids,
 * workflow ids or prompt text.
 */
export type MetricKind = 'counter' | 'histogram' | 'gauge';

export interface MetricDefinition {
  name: string;
  kind: MetricKind;
  help: string;
  labels: readonly string[];
  buckets?: readonly number[];
}

const SECONDS_REQUEST = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const SECONDS_CALL = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const SECONDS_HTTP = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const RATIO = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

function define<const T extends Record<string, MetricDefinition>>(table: T): T {
  return table;
}

export const METRICS = define({
  requests: {
    name: 'orchestrator_requests_total',
    kind: 'counter',
    help: 'Finished requests (stored interactions) by task type, status, error type, consensus strategy and routing strategy.',
    labels: ['task_type', 'status', 'error_type', 'consensus_strategy', 'routing_strategy'],
  },
  requestDuration: {
    name: 'orchestrator_request_duration_seconds',
    kind: 'histogram',
    help: 'End-to-end request time, from the workflow start (queue wait included) to the answer or failure.',
    labels: ['task_type', 'status'],
    buckets: SECONDS_REQUEST,
  },
  providerCalls: {
    name: 'orchestrator_provider_calls_total',
    kind: 'counter',
    help: 'Provider call attempts that went out, by provider, model, status (succeeded, failed, cancelled) and error type.',
    labels: ['provider', 'model', 'status', 'error_type'],
  },
  providerCallDuration: {
    name: 'orchestrator_provider_call_duration_seconds',
    kind: 'histogram',
    help: 'Duration of one provider call attempt (the HTTP exchange), by provider, model and status.',
    labels: ['provider', 'model', 'status'],
    buckets: SECONDS_CALL,
  },
  providerRetries: {
    name: 'orchestrator_provider_retries_total',
    kind: 'counter',
    help: 'Provider call attempts after the first (Temporal activity retries), by provider and model.',
    labels: ['provider', 'model'],
  },
  failovers: {
    name: 'orchestrator_failovers_total',
    kind: 'counter',
    help: 'Provider calls that failed for good and were followed by another call (a fallback), by task type.',
    labels: ['task_type'],
  },
  hedgedCalls: {
    name: 'orchestrator_hedged_calls_total',
    kind: 'counter',
    help: 'Calls started by hedging a slow call, by provider and model.',
    labels: ['provider', 'model'],
  },
  earlyStops: {
    name: 'orchestrator_early_stops_total',
    kind: 'counter',
    help: 'Requests whose remaining calls were cancelled because the outcome was already decided (consensus early stop), by task type.',
    labels: ['task_type'],
  },
  cancelledCalls: {
    name: 'orchestrator_cancelled_calls_total',
    kind: 'counter',
    help: 'Provider calls cancelled before they answered, by reason (early_stop, hedge_lost).',
    labels: ['provider', 'model', 'reason'],
  },
  escalations: {
    name: 'orchestrator_escalations_total',
    kind: 'counter',
    help: 'Providers added to a request because consensus confidence was low, by task type.',
    labels: ['task_type'],
  },
  tokens: {
    name: 'orchestrator_tokens_total',
    kind: 'counter',
    help: 'Tokens of answered provider calls, by provider, model and direction (in, out).',
    labels: ['provider', 'model', 'direction'],
  },
  cost: {
    name: 'orchestrator_cost_usd_total',
    kind: 'counter',
    help: 'Cost in US dollars of answered provider calls (config.yaml pricing), by provider and model.',
    labels: ['provider', 'model'],
  },
  consensusConfidence: {
    name: 'orchestrator_consensus_confidence',
    kind: 'histogram',
    help: 'Confidence of the chosen answer of requests where consensus ran, by strategy.',
    labels: ['strategy'],
    buckets: RATIO,
  },
  consensusAgreement: {
    name: 'orchestrator_consensus_agreement',
    kind: 'histogram',
    help: 'Agreement among the answers of requests where consensus ran, by strategy.',
    labels: ['strategy'],
    buckets: RATIO,
  },
  cacheLookups: {
    name: 'orchestrator_cache_lookups_total',
    kind: 'counter',
    help: 'Response cache lookups by result (hit, miss, error: an unreachable cache counts as a miss for the request).',
    labels: ['result'],
  },
  circuitState: {
    name: 'orchestrator_circuit_state',
    kind: 'gauge',
    help: 'Circuit breaker state last seen by this worker: 0 closed, 1 half-open, 2 open. model is empty for the provider-wide circuit.',
    labels: ['provider', 'model'],
  },
  refusals: {
    name: 'orchestrator_refusals_total',
    kind: 'counter',
    help: 'Requests or calls refused before anything was called: quota, budget (admission), rate_limit, concurrency, circuit_open (per call).',
    labels: ['reason', 'provider'],
  },
  info: {
    name: 'orchestrator_info',
    kind: 'gauge',
    help: 'Always 1: the deployment as config.yaml names it (framework.name, framework.version).',
    labels: ['name', 'version'],
  },
  routingPolicyVersion: {
    name: 'orchestrator_routing_policy_version',
    kind: 'gauge',
    help: 'The routing policy version this worker plans with.',
    labels: [],
  },
  httpRequests: {
    name: 'orchestrator_http_requests_total',
    kind: 'counter',
    help: 'Gateway HTTP requests by route (the route pattern, not the URL), method and status code.',
    labels: ['route', 'method', 'status'],
  },
  httpDuration: {
    name: 'orchestrator_http_request_duration_seconds',
    kind: 'histogram',
    help: 'Gateway HTTP request duration by route and method.',
    labels: ['route', 'method'],
    buckets: SECONDS_HTTP,
  },
  collectorFailures: {
    name: 'orchestrator_metrics_collector_failures_total',
    kind: 'counter',
    help: 'Metric events a user collector threw on, was slow with, or dropped (too many pending), by collector and reason.',
    labels: ['collector', 'reason'],
  },
  hookFailures: {
    name: 'orchestrator_hook_failures_total',
    kind: 'counter',
    help: 'Event hook calls (src/hooks) that threw or rejected (error) or outlived hooks.timeout_ms (timeout), by event, source (setup or the plugin) and reason.',
    labels: ['event', 'source', 'reason'],
  },
});

export type MetricKey = keyof typeof METRICS;

/**
 * Series the Temporal SDK exports on METRICS_SDK_PORT (Runtime telemetry with countersTotalSuffix,
 * unitSuffix and seconds), as scraped from a 1.24 worker that polled and ran a workflow and an
 * activity: the names the Grafana dashboard may use besides ours.
 */
export const TEMPORAL_SDK_SERIES: readonly string[] = [
  'temporal_activity_execution_latency_seconds',
  'temporal_activity_schedule_to_start_latency_seconds',
  'temporal_activity_succeed_endtoend_latency_seconds',
  'temporal_activity_task_received_total',
  'temporal_long_request_latency_seconds',
  'temporal_long_request_total',
  'temporal_num_pollers',
  'temporal_request_latency_seconds',
  'temporal_request_total',
  'temporal_sticky_cache_hit_total',
  'temporal_sticky_cache_size',
  'temporal_worker_start_total',
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
  'temporal_workflow_completed_total',
  'temporal_workflow_endtoend_latency_seconds',
  'temporal_workflow_task_execution_latency_seconds',
  'temporal_workflow_task_queue_poll_succeed_total',
  'temporal_workflow_task_replay_latency_seconds',
  'temporal_workflow_task_schedule_to_start_latency_seconds',
];

/** Every metric name this code registers, with the series names Prometheus derives (_bucket, _sum, _count). */
export function registeredSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const m of Object.values(METRICS) as MetricDefinition[]) {
    names.add(m.name);
    if (m.kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}
