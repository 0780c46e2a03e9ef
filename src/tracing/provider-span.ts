/**
 * A span around each provider HTTP call, a child of its activity's span (RunActivity:callProvider;
 * RunActivity:selectConsensus for the LLM judge, RunActivity:planRequest for the LLM complexity
 * evaluator). Named and
 * attributed after OpenTelemetry's GenAI conventions (`chat <model>`, `gen_ai.*`), plus the
 * configured provider name and the attempt. Never the prompt, the system prompt, the messages or
 * the answer; never an error's message (a provider's error text can quote the prompt): only its
 * type and HTTP status.
 *
 * With tracing off (src/tracing/tracing.ts) this is one boolean check and the call itself.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { ProviderCallError } from '../providers/errors';

export const PROVIDER_TRACER_NAME = 'temporal-llm-orchestrator';

let active = false;

/** Turned on and off by installTracing / shutdownTracing. */
export function setProviderTracing(on: boolean): void {
  active = on;
}

/** Whether tracing is installed in this process. */
export function providerTracingActive(): boolean {
  return active;
}

export interface ProviderCallSpanInfo {
  /** The configured provider name (`models.<name>`). */
  provider: string;
  /** The connector kind (openai, anthropic, google, openai_compatible). */
  kind: string;
  model: string;
  /** The activity attempt (callProvider). */
  attempt?: number;
  stream?: boolean;
  /** What the call is for: a request's answer (default), the LLM judge, the LLM complexity evaluator, meta-prompting. */
  purpose?: 'request' | 'judge' | 'complexity' | 'improvement';
}

interface ProviderCallOutcome {
  model: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  finishReason: string;
  firstTokenMs?: number | null | undefined;
}

/** The span's attributes before the call. */
export function providerCallAttributes(info: ProviderCallSpanInfo): Attributes {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': info.kind,
    'gen_ai.request.model': info.model,
    'llm.provider': info.provider,
    'llm.purpose': info.purpose ?? 'request',
    ...(info.attempt !== undefined && { 'llm.attempt': info.attempt }),
    ...(info.stream !== undefined && { 'llm.stream': info.stream }),
  };
}

/** Run `call` inside a `chat <model>` span (when tracing is on). */
export async function traceProviderCall<T extends ProviderCallOutcome>(info: ProviderCallSpanInfo, call: () => Promise<T>): Promise<T> {
  if (!active) return call();
  const tracer = trace.getTracer(PROVIDER_TRACER_NAME);
  return tracer.startActiveSpan(`chat ${info.model}`, { kind: SpanKind.CLIENT, attributes: providerCallAttributes(info) }, async (span: Span) => {
    try {
      const result = await call();
      span.setAttributes({
        'gen_ai.response.model': result.model,
        'gen_ai.usage.input_tokens': result.tokensIn,
        'gen_ai.usage.output_tokens': result.tokensOut,
        'gen_ai.response.finish_reasons': [result.finishReason],
        'llm.latency_ms': result.latencyMs,
        ...(typeof result.firstTokenMs === 'number' && { 'llm.first_token_ms': result.firstTokenMs }),
      });
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (err) {
      const type = err instanceof ProviderCallError ? err.type : err instanceof Error && err.name === 'AbortError' ? 'Cancelled' : 'UnknownError';
      span.setAttributes({
        'error.type': type,
        ...(err instanceof ProviderCallError && err.status !== null && { 'http.response.status_code': err.status }),
        ...(err instanceof ProviderCallError && { 'llm.retryable': err.retryable }),
      });
      span.setStatus({ code: SpanStatusCode.ERROR, message: type });
      throw err;
    } finally {
      span.end();
    }
  });
}
