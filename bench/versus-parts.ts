/**
 * The pieces of `bench:versus` that could be wrong without the figures showing it, kept pure so
 * test/bench/versus.test.ts checks them without LiteLLM or Temporal: the LiteLLM proxy config the
 * bench writes (every model routed to the shared emulator, retries and fallbacks matching ours),
 * our gateway's bench config, and the accounting of provider calls from the emulator's request
 * log (calls per request, and what a crash cost: answered, lost, calls repeated).
 */
import type { EmulatorCallRecord } from '../src/emulator/server';

/** The three provider models both sides use, in failover order (ours: the route's order). */
export const VERSUS_MODELS = [
  { provider: 'openai', model: 'gpt-4o-mini', litellm: 'openai/gpt-4o-mini', timeoutS: 15 },
  { provider: 'anthropic', model: 'claude-haiku-4-5', litellm: 'anthropic/claude-haiku-4-5', timeoutS: 20 },
  { provider: 'google', model: 'gemini-2.0-flash', litellm: 'gemini/gemini-2.0-flash', timeoutS: 10 },
] as const;

/** Our route for the bench's requests (`model: route:versus`): one provider at a time, the others for failover. */
export const VERSUS_TASK_TYPE = 'versus';

export interface LiteLLMConfigOptions {
  /** The emulator's base URL, e.g. http://127.0.0.1:8390 (no trailing slash). */
  emulatorUrl: string;
  /** The proxy's master key (LiteLLM requires it to start with `sk-`). */
  masterKey: string;
  /** Attempts per deployment, as ours (performance.models.<p>.max_attempts); LiteLLM's num_retries is attempts - 1. */
  maxAttempts: number;
  /** Our circuit breaker's failure_threshold and cooldown_s, mapped to LiteLLM's allowed_fails and cooldown_time. */
  allowedFails: number;
  cooldownS: number;
}

/**
 * LiteLLM's proxy config (the `config.yaml` it is started with): one deployment per model, each
 * with `api_base` on the emulator in that provider's own API (OpenAI's /v1, Anthropic's root, to
 * which LiteLLM adds /v1/messages; Gemini's /v1beta, to which it adds /models/<m>:generateContent),
 * fallbacks in our route's order, retries and cooldowns matching ours, and the production settings
 * of LiteLLM's docs (no debug logging; the proxy is started with LITELLM_LOG=ERROR, one worker per core).
 */
export function liteLLMConfig(options: LiteLLMConfigOptions): Record<string, unknown> {
  const base = options.emulatorUrl.replace(/\/+$/, '');
  const apiBase: Record<(typeof VERSUS_MODELS)[number]['provider'], string> = { openai: `${base}/v1`, anthropic: base, google: `${base}/v1beta` };
  const names = VERSUS_MODELS.map((m) => m.model);
  return {
    model_list: VERSUS_MODELS.map((m) => ({
      model_name: m.model,
      litellm_params: { model: m.litellm, api_base: apiBase[m.provider], api_key: 'emulator', timeout: m.timeoutS },
    })),
    router_settings: {
      routing_strategy: 'simple-shuffle',
      num_retries: options.maxAttempts - 1,
      allowed_fails: options.allowedFails,
      cooldown_time: options.cooldownS,
      // Each model falls back to the ones after it, then the ones before (ours: the route's other candidates).
      fallbacks: names.map((name, i) => ({ [name]: [...names.slice(i + 1), ...names.slice(0, i)] })),
    },
    litellm_settings: { set_verbose: false, json_logs: true, request_timeout: 120, drop_params: true, telemetry: false },
    general_settings: { master_key: options.masterKey },
  };
}

/** Our config for the bench (the raw YAML object of config.yaml, changed): every provider on the emulator, the bench's route, breaker cooldown. */
export function ourVersusConfig(raw: Record<string, unknown>, options: { latencyMs: number; cooldownS: number }): Record<string, unknown> {
  const routing = (raw['routing'] ?? {}) as Record<string, unknown>;
  const rules = Array.isArray(routing['rules']) ? (routing['rules'] as unknown[]) : [];
  const resilience = (raw['resilience'] ?? {}) as Record<string, unknown>;
  const breaker = (resilience['circuit_breaker'] ?? {}) as Record<string, unknown>;
  const emulator = (raw['emulator'] ?? {}) as Record<string, unknown>;
  return {
    ...raw,
    routing: {
      ...routing,
      default_strategy: 'static',
      rules: [
        ...rules,
        { id: 'versus', task_type: VERSUS_TASK_TYPE, complexity: 'any', providers: VERSUS_MODELS.map((m) => `${m.provider}:${m.model}`), require_consensus: false, min_providers: 1 },
      ],
    },
    resilience: { ...resilience, circuit_breaker: { ...breaker, cooldown_s: options.cooldownS } },
    emulator: { ...emulator, mode: 'always', latency_ms: options.latencyMs },
  };
}

/** The bench's request tag: unique per request, inside its prompt, so the request log attributes each provider call. */
export function requestTag(side: string, phase: string, i: number): string {
  return `<${side}:${phase}:${i}>`;
}

/** The emulator calls made for requests whose tag starts with `prefix` (e.g. `<litellm:crash:`), grouped by tag. */
export function callsByTag(log: readonly EmulatorCallRecord[], prefix: string): Map<string, EmulatorCallRecord[]> {
  const out = new Map<string, EmulatorCallRecord[]>();
  for (const call of log) {
    const at = call.prompt.indexOf(prefix);
    if (at < 0) continue;
    const end = call.prompt.indexOf('>', at);
    if (end < 0) continue;
    const tag = call.prompt.slice(at, end + 1);
    const list = out.get(tag) ?? [];
    list.push(call);
    out.set(tag, list);
  }
  return out;
}

/** Provider calls per request over `requests` requests (a request that reached no provider counts 0). */
export function callsPerRequest(log: readonly EmulatorCallRecord[], prefix: string, requests: number): number {
  if (requests === 0) return 0;
  let calls = 0;
  for (const list of callsByTag(log, prefix).values()) calls += list.length;
  return calls / requests;
}

/** What the client saw for one request of the crash phase. */
export interface CrashOutcome {
  tag: string;
  /** Answered (200 with an answer) by the first attempt. */
  firstAttemptOk: boolean;
  /** Answered by the first attempt or the one resend after the restart. */
  answered: boolean;
}

export interface CrashAccounting {
  requests: number;
  /** Answered on the first attempt, through the kill. */
  answeredFirstAttempt: number;
  /** Answered on the first attempt or the resend after the restart. */
  answered: number;
  /** Never answered. */
  lost: number;
  /** Provider calls made for these requests. */
  providerCalls: number;
  /** Calls beyond the first per request (the call cut off by the kill, made again). */
  callsRepeated: number;
  /** Calls that started after a call of the same request had already been answered in full by the provider: paid work done twice. */
  repeatedAfterCompleted: number;
  /** Of those, the ones whose earlier answer the provider had finished before the kill (an answer the crash lost); the rest repeat an answer given after it (a retry of the side's own). */
  repeatedAnswerFromBeforeKill: number;
}

/** Tally the crash phase from the client's outcomes and the emulator's request log (calls matched by tag); `killedAt` in the log's clock (Date.now()). */
export function crashAccounting(outcomes: readonly CrashOutcome[], log: readonly EmulatorCallRecord[], prefix: string, killedAt: number): CrashAccounting {
  const byTag = callsByTag(log, prefix);
  let providerCalls = 0;
  let callsRepeated = 0;
  let repeatedAfterCompleted = 0;
  let repeatedAnswerFromBeforeKill = 0;
  for (const outcome of outcomes) {
    const calls = [...(byTag.get(outcome.tag) ?? [])].sort((a, b) => a.startedAt - b.startedAt);
    providerCalls += calls.length;
    callsRepeated += Math.max(0, calls.length - 1);
    const firstDone = calls.filter((c) => c.completed && c.status === 200).map((c) => c.endedAt);
    const doneAt = firstDone.length > 0 ? Math.min(...firstDone) : Infinity;
    const repeats = calls.filter((c) => c.startedAt >= doneAt).length;
    repeatedAfterCompleted += repeats;
    if (doneAt < killedAt) repeatedAnswerFromBeforeKill += repeats;
  }
  const answered = outcomes.filter((o) => o.answered).length;
  return {
    requests: outcomes.length,
    answeredFirstAttempt: outcomes.filter((o) => o.firstAttemptOk).length,
    answered,
    lost: outcomes.length - answered,
    providerCalls,
    callsRepeated,
    repeatedAfterCompleted,
    repeatedAnswerFromBeforeKill,
  };
}
