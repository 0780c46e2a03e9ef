/**
 * A model connector for tests (the product description's `MockModelConnector`): scripted answers,
 * latencies and failures, chosen by call index, by a matcher on the request, or in order, with
 * every call recorded. Failures are the typed `ProviderCallError`s real connectors throw
 * (src/providers/errors.ts), so retries, Retry-After, circuit breakers and failover treat them
 * exactly like a real provider's.
 *
 *   const openai = new MockModelConnector('openai')
 *     .reply('The answer is 42.')                                   // first call (after onCall/when)
 *     .fail('ProviderRateLimited', { status: 429, retryAfterMs: 30_000 })
 *     .when(/capital of France/, 'Paris', { latencyMs: 200 })
 *     .onCall(5, { error: 'ProviderOverloaded', status: 529 });
 *
 * Latency is real time (activities run in real time, also under time skipping), aborted when the
 * activity is cancelled, and bounded by the attempt's timeout like a real HTTP call.
 */
import type { ProviderKind } from '../config/schema';
import { PROVIDER_ERROR_TYPES, ProviderCallError, type ProviderErrorType } from '../providers/errors';
import type { ModelConnector, GenerateOptions } from '../providers/types';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';

export interface MockAnswer {
  content: string;
  tokensIn?: number;
  tokensOut?: number;
  /** Provider-reported confidence in [0, 1] (the `confidence` consensus strategy reads it). */
  confidence?: number | null;
  finishReason?: FinishReason;
  /** Real time before the answer (ms). */
  latencyMs?: number;
}

export interface MockFailure {
  /** The typed provider error (its retryability is the real one: 429/5xx retried, 4xx not). */
  error: ProviderErrorType;
  status?: number;
  /** The provider's Retry-After, in ms: the next attempt waits this long (capped by resilience.max_retry_after_s). */
  retryAfterMs?: number;
  detail?: string;
  latencyMs?: number;
}

/** The call never answers: it ends at the attempt's timeout (ProviderTimeout) or when the activity is cancelled. */
export interface MockHang {
  hang: true;
}

/** One scripted outcome: an answer's text, an answer, a failure, a hang, or a function of the call. */
export type MockStep = string | MockAnswer | MockFailure | MockHang | ((call: MockCall) => MockStep | Promise<MockStep>);

/** What a matcher is tested against: a substring or a pattern of the prompt, or a predicate of the call. */
export type MockMatcher = string | RegExp | ((call: MockCall) => boolean);

export interface MockCall {
  /** 0-based, per connector. */
  index: number;
  provider: string;
  model: string;
  prompt: string;
  systemPrompt: string | undefined;
  messages: GenerateRequest['messages'];
  temperature: number | undefined;
  maxTokens: number | undefined;
  /** Wall-clock time the call arrived (epoch ms). */
  at: number;
  /** How it ended: 'answered', the error type, or 'aborted'; null while running. */
  outcome: string | null;
}

export interface MockModelConnectorOptions {
  kind?: ProviderKind;
  /** The models getSupportedModels() lists (routing validates against config.yaml, not this). */
  models?: string[];
  /** The answer when nothing is scripted for a call (default: a short text naming provider and model). */
  defaultAnswer?: MockStep;
  /** Real time every call takes unless its step says otherwise (ms, default 0). */
  latencyMs?: number;
  /** What validateConnection() answers (default true). */
  connected?: boolean;
}

interface Scripted {
  matcher: MockMatcher | null;
  step: MockStep;
  /** Calls it still answers (Infinity: every matching call). */
  remaining: number;
}

const ERROR_TYPES: ReadonlySet<string> = new Set(PROVIDER_ERROR_TYPES);

/** Thrown at scripting time for a step that is not one (clear, before any request runs). */
export class MockScriptError extends TypeError {
  override readonly name = 'MockScriptError';
}

export class MockModelConnector implements ModelConnector {
  readonly kind: ProviderKind;
  readonly calls: MockCall[] = [];
  private readonly models: string[];
  private readonly byIndex = new Map<number, MockStep>();
  private readonly matchers: Scripted[] = [];
  private readonly queue: Scripted[] = [];
  private defaultAnswer: MockStep;
  private latencyMs: number;
  private connected: boolean;

  constructor(
    readonly provider: string,
    options: MockModelConnectorOptions = {},
  ) {
    if (!provider) throw new MockScriptError('MockModelConnector: provider name is required');
    this.kind = options.kind ?? 'openai';
    this.models = options.models ?? [];
    this.defaultAnswer = options.defaultAnswer === undefined ? (call) => `Mock answer from ${call.provider}:${call.model}.` : checkStep(options.defaultAnswer, 'defaultAnswer');
    this.latencyMs = checkLatency(options.latencyMs ?? 0, 'latencyMs');
    this.connected = options.connected ?? true;
  }

  /** Answer the next unscripted calls, in order (`times` calls, default 1). */
  reply(answer: string | MockAnswer | ((call: MockCall) => MockStep | Promise<MockStep>), options: { times?: number; latencyMs?: number } = {}): this {
    this.queue.push({ matcher: null, step: withLatency(checkStep(answer, 'reply'), options.latencyMs), remaining: checkTimes(options.times ?? 1) });
    return this;
  }

  /** Fail the next unscripted calls, in order, with a typed provider error (`times` calls, default 1). */
  fail(error: ProviderErrorType, options: Omit<MockFailure, 'error'> & { times?: number } = {}): this {
    const { times, ...rest } = options;
    this.queue.push({ matcher: null, step: checkStep({ error, ...rest }, 'fail'), remaining: checkTimes(times ?? 1) });
    return this;
  }

  /** The next unscripted calls never answer (they end at their timeout or when cancelled). */
  hang(options: { times?: number } = {}): this {
    this.queue.push({ matcher: null, step: { hang: true }, remaining: checkTimes(options.times ?? 1) });
    return this;
  }

  /** Calls whose request matches answer with `step` (every match unless `times`), before the in-order script. */
  when(matcher: MockMatcher, step: MockStep, options: { times?: number; latencyMs?: number } = {}): this {
    if (!(typeof matcher === 'string' || matcher instanceof RegExp || typeof matcher === 'function')) throw new MockScriptError('MockModelConnector.when: matcher must be a string, a RegExp or a function');
    this.matchers.push({ matcher, step: withLatency(checkStep(step, 'when'), options.latencyMs), remaining: checkTimes(options.times ?? Infinity) });
    return this;
  }

  /** The call with this 0-based index answers with `step`, whatever else is scripted. */
  onCall(index: number, step: MockStep): this {
    if (!Number.isInteger(index) || index < 0) throw new MockScriptError(`MockModelConnector.onCall: index must be an integer >= 0 (got ${index})`);
    this.byIndex.set(index, checkStep(step, 'onCall'));
    return this;
  }

  /** Change the answer used when nothing is scripted. */
  setDefault(step: MockStep): this {
    this.defaultAnswer = checkStep(step, 'setDefault');
    return this;
  }

  /** Real time every call takes unless its step says otherwise. */
  setLatency(ms: number): this {
    this.latencyMs = checkLatency(ms, 'setLatency');
    return this;
  }

  setConnected(connected: boolean): this {
    this.connected = connected;
    return this;
  }

  /** Forget the script and the recorded calls (call indexes start at 0 again). */
  reset(): this {
    this.calls.length = 0;
    this.byIndex.clear();
    this.matchers.length = 0;
    this.queue.length = 0;
    return this;
  }

  /** Calls whose request matched (same matcher kinds as `when`). */
  callsMatching(matcher: MockMatcher): MockCall[] {
    return this.calls.filter((c) => matches(matcher, c));
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResponse> {
    const call: MockCall = {
      index: this.calls.length,
      provider: this.provider,
      model: request.model,
      prompt: request.prompt,
      systemPrompt: request.systemPrompt,
      messages: request.messages,
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      at: Date.now(),
      outcome: null,
    };
    this.calls.push(call);
    const started = performance.now();
    try {
      let step = this.stepFor(call);
      for (let depth = 0; typeof step === 'function'; depth++) {
        if (depth > 10) throw new MockScriptError('MockModelConnector: a step function kept returning functions');
        step = checkStep(await step(call), 'step function result');
      }
      const latency = typeof step === 'string' ? this.latencyMs : 'hang' in step ? Infinity : (step.latencyMs ?? this.latencyMs);
      await this.wait(latency, request.model, options);
      if (typeof step !== 'string' && 'error' in step) {
        throw new ProviderCallError({
          type: step.error,
          provider: this.provider,
          model: request.model,
          detail: step.detail ?? `mock ${step.error}`,
          status: step.status ?? null,
          retryAfterMs: step.retryAfterMs ?? null,
          requestId: `mock-${this.provider}-${call.index}`,
        });
      }
      const answer: MockAnswer = typeof step === 'string' ? { content: step } : (step as MockAnswer);
      call.outcome = 'answered';
      return {
        content: answer.content,
        provider: this.provider,
        model: request.model,
        tokensIn: answer.tokensIn ?? estimateTokens([request.systemPrompt ?? '', ...(request.messages ?? []).map((m) => m.content), request.messages ? '' : request.prompt].join(' ')),
        tokensOut: answer.tokensOut ?? estimateTokens(answer.content),
        latencyMs: Math.round(performance.now() - started),
        finishReason: answer.finishReason ?? 'stop',
        providerRequestId: `mock-${this.provider}-${call.index}`,
        confidence: answer.confidence ?? null,
      };
    } catch (err) {
      call.outcome = err instanceof ProviderCallError ? err.type : 'error';
      throw err;
    }
  }

  validateConnection(): Promise<boolean> {
    return Promise.resolve(this.connected);
  }

  getSupportedModels(): string[] {
    return [...this.models];
  }

  private stepFor(call: MockCall): MockStep {
    const indexed = this.byIndex.get(call.index);
    if (indexed !== undefined) return indexed;
    const matched = this.matchers.find((m) => m.remaining > 0 && matches(m.matcher!, call));
    if (matched) {
      matched.remaining--;
      return matched.step;
    }
    const next = this.queue.find((q) => q.remaining > 0);
    if (next) {
      next.remaining--;
      return next.step;
    }
    return this.defaultAnswer;
  }

  /** Real time, like a network call: a timeout is a ProviderTimeout, an abort a ProviderAborted. */
  private wait(ms: number, model: string, options: GenerateOptions): Promise<void> {
    const { signal, timeoutMs } = options;
    const fail = (type: ProviderErrorType, detail: string) => new ProviderCallError({ type, provider: this.provider, model, detail });
    if (signal?.aborted) return Promise.reject(fail('ProviderAborted', 'request aborted by caller'));
    const timesOut = timeoutMs !== undefined && timeoutMs < ms;
    const waitMs = timesOut ? timeoutMs : ms;
    if (!timesOut && ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(waitMs)
        ? setTimeout(
            () => {
              signal?.removeEventListener('abort', onAbort);
              if (timesOut) reject(fail('ProviderTimeout', 'request timed out'));
              else resolve();
            },
            waitMs,
          )
        : null;
      const onAbort = () => {
        if (timer) clearTimeout(timer);
        reject(fail('ProviderAborted', 'request aborted by caller'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!timer && !signal) reject(fail('ProviderTimeout', 'the call hangs and has neither a timeout nor a signal'));
    });
  }
}

function matches(matcher: MockMatcher, call: MockCall): boolean {
  if (typeof matcher === 'function') return matcher(call);
  const text = [call.systemPrompt ?? '', ...(call.messages ?? []).map((m) => m.content), call.prompt].join('\n');
  return typeof matcher === 'string' ? text.includes(matcher) : matcher.test(text);
}

function checkStep(step: unknown, where: string): MockStep {
  if (typeof step === 'string' || typeof step === 'function') return step as MockStep;
  if (step && typeof step === 'object') {
    const s = step as Record<string, unknown>;
    if (typeof s['content'] === 'string') return s as unknown as MockAnswer;
    if (typeof s['error'] === 'string') {
      if (!ERROR_TYPES.has(s['error'])) throw new MockScriptError(`MockModelConnector.${where}: unknown error type "${s['error']}" (one of ${PROVIDER_ERROR_TYPES.join(', ')})`);
      if (s['retryAfterMs'] !== undefined) checkLatency(s['retryAfterMs'], `${where}: retryAfterMs`);
      if (s['latencyMs'] !== undefined) checkLatency(s['latencyMs'], `${where}: latencyMs`);
      return s as unknown as MockFailure;
    }
    if (s['hang'] === true) return { hang: true };
  }
  throw new MockScriptError(`MockModelConnector.${where}: a step is a string, { content }, { error: <ProviderErrorType> }, { hang: true } or a function (got ${JSON.stringify(step)})`);
}

function withLatency(step: MockStep, latencyMs: number | undefined): MockStep {
  if (latencyMs === undefined) return step;
  checkLatency(latencyMs, 'latencyMs');
  if (typeof step === 'string') return { content: step, latencyMs };
  if (typeof step === 'function' || 'hang' in step) return step;
  return { ...step, latencyMs };
}

function checkLatency(ms: unknown, where: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new MockScriptError(`MockModelConnector ${where}: must be a number of milliseconds >= 0 (got ${String(ms)})`);
  return ms;
}

function checkTimes(times: number): number {
  if (times !== Infinity && (!Number.isInteger(times) || times < 1)) throw new MockScriptError(`MockModelConnector: times must be an integer >= 1 (got ${times})`);
  return times;
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
