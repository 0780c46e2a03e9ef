/**
 * OpenTelemetry traces: one request is one trace, from the client's start of the workflow
 * (StartWorkflow) through the workflow (RunWorkflow), each activity (StartActivity / RunActivity,
 * local activities too) and each provider HTTP call (`chat <model>`, src/tracing/provider-span.ts).
 *
 * On when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: spans go by
 * OTLP over HTTP (JSON) in batches, with `service.name` from OTEL_SERVICE_NAME. Off otherwise:
 * no tracer provider, no interceptors, none of the OpenTelemetry SDK loaded (it is `require`d
 * only when turned on); the provider-call wrapper costs one boolean check.
 *
 * The Temporal side is @temporalio/interceptors-opentelemetry 1.24.0 (the SDK's version): the
 * client interceptor puts the trace context in the workflow's start headers (headers are not
 * payloads: they stay readable with payload encryption on, and carry nothing but ids), the
 * workflow interceptors (src/tracing/workflow-interceptors.ts, bundled with the workflows) pass it
 * on to every activity, and the activity interceptor opens RunActivity with it as parent. Spans the
 * workflow sandbox makes leave it through the `exporter` sink into this process's span processors.
 *
 * Versions: that package runs OpenTelemetry JS SDK 1.x inside the workflow sandbox (its own
 * dependency); this process runs SDK 2.x. Workflow spans arrive in the 1.x shape
 * (`parentSpanId`, `instrumentationLibrary`) and are converted to the 2.x one (`parentSpanContext`,
 * `instrumentationScope`) before any 2.x processor sees them (`fromSandboxSpan`).
 */
import path from 'node:path';
import { context, propagation, trace, type Attributes, type SpanContext } from '@opentelemetry/api';
import type { ClientInterceptors } from '@temporalio/client';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Resource } from '@opentelemetry/resources';
import type * as TemporalOtel from '@temporalio/interceptors-opentelemetry';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkTraceNode from '@opentelemetry/sdk-trace-node';
import type { Env } from '../config/env';
import { PROJECT_ROOT } from '../project-root';
import { workflowWorkerOptions, type WorkflowSource } from '../temporal/workflow-bundle';
import { setProviderTracing } from './provider-span';

/** The workflow interceptor module: passed to Worker.create (sources) and bundleWorkflowCode (scripts/build.ts). */
export const WORKFLOW_INTERCEPTORS_FILE = path.join('src', 'tracing', 'workflow-interceptors.ts');
export const WORKFLOW_INTERCEPTORS_PATH = path.join(PROJECT_ROOT, WORKFLOW_INTERCEPTORS_FILE);

/** `service.name` when OTEL_SERVICE_NAME is not set. */
export const DEFAULT_SERVICE_NAME = 'llm-orchestrator';

export interface Tracing {
  readonly enabled: boolean;
  /** Where spans go (`otlp <url>`, `custom` for processors given in code, `off`). */
  readonly destination: string;
  /** For `new Client({ interceptors })`: the StartWorkflow span and the trace context in the start headers. */
  clientInterceptors(): ClientInterceptors;
  /**
   * For `Worker.create`: the activity interceptors and the workflow spans' sink. The sink is there
   * even with tracing off (a no-op), so a workflow a tracing client started runs cleanly on a worker
   * that does not trace. The workflow interceptor module is not part of this: see workflowWorkerOptions.
   */
  workerOptions(): Pick<WorkerOptions, 'interceptors' | 'sinks'>;
  /** Export what is buffered (the batch processor's queue). */
  forceFlush(): Promise<void>;
}

export interface InstallTracingOptions {
  /** Span processors in code (tests: an InMemorySpanExporter behind a SimpleSpanProcessor). */
  spanProcessors?: SpanProcessor[];
  /** OTLP/HTTP traces URL (…/v1/traces). */
  otlpUrl?: string;
  serviceName?: string;
}

const noopSinks: InjectedSinks<TemporalOtel.OpenTelemetrySinks> = { exporter: { export: { fn: () => undefined } } };

const DISABLED: Tracing = {
  enabled: false,
  destination: 'off',
  clientInterceptors: () => ({}),
  workerOptions: () => ({ sinks: noopSinks }),
  forceFlush: () => Promise.resolve(),
};

let installed: (Tracing & { shutdown(): Promise<void> }) | null = null;

/** The OTLP traces URL the environment asks for, or null (tracing off). */
export function otlpTracesUrl(env: Pick<Env, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>): string | null {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return null;
}

/**
 * This process's tracing, as the environment says: installed once (the first caller's settings
 * hold for the process: a worker and a client in one process share one trace pipeline), or the
 * disabled one when no OTLP endpoint is set and nothing was installed in code.
 */
export function tracingFor(env: Env): Tracing {
  if (installed) return installed;
  const url = otlpTracesUrl(env);
  if (url === null) return DISABLED;
  return installTracing({ otlpUrl: url, ...(env.OTEL_SERVICE_NAME && { serviceName: env.OTEL_SERVICE_NAME }) });
}

/** Install the process-wide tracer provider (W3C propagation, async-hooks context). Once per process. */
export function installTracing(options: InstallTracingOptions): Tracing {
  if (installed) throw new Error(`tracing is already installed in this process (${installed.destination})`);
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node') as typeof SdkTraceNode;
  const { resourceFromAttributes, defaultResource } = require('@opentelemetry/resources') as typeof Resources;
  const otel = require('@temporalio/interceptors-opentelemetry') as typeof TemporalOtel;
  /* eslint-enable @typescript-eslint/no-require-imports */

  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.otlpUrl) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpUrl })));
  }
  const resource: Resource = defaultResource().merge(resourceFromAttributes({ 'service.name': options.serviceName ?? DEFAULT_SERVICE_NAME }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  setProviderTracing(true);

  // Workflow spans, converted from the sandbox's SDK 1.x shape, go to the same processors.
  const sandboxProcessor = {
    onStart: () => undefined,
    onEnd: (span: unknown) => {
      const converted = fromSandboxSpan(span as SandboxSpan);
      for (const p of processors) p.onEnd(converted);
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => Promise.resolve(),
  };
  const sinks: InjectedSinks<TemporalOtel.OpenTelemetrySinks> = {
    // The package types the processor with its own (1.x) SDK; fromSandboxSpan bridges the shapes.
    exporter: otel.makeWorkflowExporter(sandboxProcessor as unknown as Parameters<typeof otel.makeWorkflowExporter>[0], resource),
  };
  installed = {
    enabled: true,
    destination: options.otlpUrl ? `otlp ${options.otlpUrl}` : 'custom',
    clientInterceptors: () => ({ workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] }),
    workerOptions: () => ({
      interceptors: {
        activity: [(ctx) => ({ inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx), outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx) })],
      },
      sinks,
    }),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
  return installed;
}

/** Flush and stop the installed provider (process exit); tracing is off afterwards. */
export async function shutdownTracing(): Promise<void> {
  const current = installed;
  if (!current) return;
  installed = null;
  setProviderTracing(false);
  await current.shutdown();
  // Unregister the globals, so that a later installTracing (tests) registers its own.
  trace.disable();
  context.disable();
  propagation.disable();
}

/**
 * The sink copies the whole WorkflowInfo into each workflow span's attributes: ids, task queue and
 * counters (kept), but also the memo, search attributes (UserId) and the last result or failure of a
 * continued run (objects: dropped here, never exported). Only string, number and boolean values
 * (and arrays of them) stay.
 */
function primitiveAttributes(attributes: Attributes): Attributes {
  const kept: Attributes = {};
  const primitive = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  for (const [key, value] of Object.entries(attributes)) {
    if (primitive(value) || (Array.isArray(value) && value.every((v) => v === null || v === undefined || primitive(v)))) kept[key] = value;
  }
  return kept;
}

/** A span as the workflow sandbox's SDK 1.x makes it (after the sink rebuilt it). */
type SandboxSpan = ReadableSpan & { parentSpanId?: string; instrumentationLibrary?: ReadableSpan['instrumentationScope'] };

/** The SDK 2.x ReadableSpan for a span from the workflow sandbox (parent and scope renamed in 2.0). */
export function fromSandboxSpan(span: SandboxSpan): ReadableSpan {
  const own = span.spanContext();
  const parentSpanContext: SpanContext | undefined =
    span.parentSpanContext ?? (span.parentSpanId ? { traceId: own.traceId, spanId: span.parentSpanId, traceFlags: own.traceFlags } : undefined);
  const instrumentationScope = span.instrumentationScope ?? span.instrumentationLibrary ?? { name: '@temporalio/interceptor-workflow' };
  const attributes = primitiveAttributes(span.attributes);
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => own,
    ...(parentSpanContext && { parentSpanContext }),
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes,
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/**
 * Worker.create options for `source` with tracing: the workflow code (src/temporal/workflow-bundle.ts),
 * the workflow interceptor module when the worker bundles the sources itself (a prebuilt bundle
 * carries it already: scripts/build.ts), the activity interceptors and the sink.
 */
export function tracedWorkflowWorkerOptions(
  tracing: Tracing,
  source: WorkflowSource,
): ({ workflowBundle: { codePath: string } } | { workflowsPath: string }) & Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  const traced = tracing.workerOptions();
  return {
    ...workflowWorkerOptions(source),
    interceptors: { ...traced.interceptors, ...(source.kind === 'sources' && { workflowModules: [WORKFLOW_INTERCEPTORS_PATH] }) },
    ...(traced.sinks && { sinks: traced.sinks }),
  };
}
