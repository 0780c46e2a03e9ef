/**
 * Workflow interceptors for OpenTelemetry (an interceptor module, bundled with the workflows: see
 * scripts/build.ts and src/tracing/tracing.ts), loaded into every workflow run.
 *
 * A run is traced only when the client that started it sent a trace context (the `_tracer-data`
 * header that @temporalio/interceptors-opentelemetry's client interceptor adds). Then this module
 * hands everything to that package's workflow interceptors (RunWorkflow, StartActivity spans, the
 * context passed on to each activity). A run started without one (tracing off, another SDK, every
 * history recorded before tracing existed) goes straight through: one header lookup, and the
 * OpenTelemetry code is never even loaded (it is `require`d lazily: the workflow sandbox evaluates
 * modules per run, so importing it at the top would cost every request). Replaying an old history
 * therefore runs exactly the code it was recorded with.
 */
import type {
  ActivityInput,
  ContinueAsNewInput,
  DisposeInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  QueryInput,
  SignalInput,
  SignalWorkflowInput,
  StartChildWorkflowExecutionInput,
  UpdateInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import type * as OtelWorkflow from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** The header the OpenTelemetry interceptors carry the trace context in (their TRACE_HEADER). */
export const TRACE_HEADER = '_tracer-data';

interface OtelInterceptors {
  inbound: WorkflowInboundCallsInterceptor;
  outbound: WorkflowOutboundCallsInterceptor;
  internals: WorkflowInternalsInterceptor;
}

export const interceptors = (): WorkflowInterceptors => {
  let otel: OtelInterceptors | null = null;
  // Set when the run's start carried a trace context: its outbound calls are traced from then on.
  let traced = false;
  const load = (): OtelInterceptors => {
    if (otel === null) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require('@temporalio/interceptors-opentelemetry/lib/workflow') as typeof OtelWorkflow;
      otel = { inbound: new mod.OpenTelemetryInboundInterceptor(), outbound: new mod.OpenTelemetryOutboundInterceptor(), internals: new mod.OpenTelemetryInternalsInterceptor() };
    }
    return otel;
  };
  const hasContext = (headers: Record<string, unknown>): boolean => headers[TRACE_HEADER] !== undefined;

  const inbound: WorkflowInboundCallsInterceptor = {
    execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>) {
      if (!hasContext(input.headers)) return next(input);
      traced = true;
      return load().inbound.execute!(input, next);
    },
    handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>) {
      return hasContext(input.headers) ? load().inbound.handleSignal!(input, next) : next(input);
    },
    handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>) {
      return hasContext(input.headers) ? load().inbound.handleUpdate!(input, next) : next(input);
    },
    validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>) {
      if (hasContext(input.headers)) load().inbound.validateUpdate!(input, next);
      else next(input);
    },
    handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>) {
      return hasContext(input.headers) ? load().inbound.handleQuery!(input, next) : next(input);
    },
  };

  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
      return traced ? load().outbound.scheduleActivity!(input, next) : next(input);
    },
    scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>) {
      return traced ? load().outbound.scheduleLocalActivity!(input, next) : next(input);
    },
    startChildWorkflowExecution(input: StartChildWorkflowExecutionInput, next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>) {
      return traced ? load().outbound.startChildWorkflowExecution!(input, next) : next(input);
    },
    continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>) {
      return traced ? load().outbound.continueAsNew!(input, next) : next(input);
    },
    signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>) {
      return traced ? load().outbound.signalWorkflow!(input, next) : next(input);
    },
    getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>) {
      return traced ? load().outbound.getLogAttributes!(input, next) : next(input);
    },
  };

  const internals: WorkflowInternalsInterceptor = {
    dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>) {
      return otel !== null ? otel.internals.dispose!(input, next) : next(input);
    },
  };

  return { inbound: [inbound], outbound: [outbound], internals: [internals] };
};
