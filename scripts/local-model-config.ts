/**
 * Providers at the real local model (scripts/local-model.sh: llama.cpp's llama-server serving
 * SmolLM2-135M-Instruct), added to a config in code for the demo (`--local-model`), the tests
 * (test/local-model) and `npm run bench:quality-local`. config.yaml has no interpolation, so the
 * base URL (chosen at start-up) is set here rather than there.
 */
import { ProviderConfigSchema, type Config } from '../src/config/schema';

/** The model id llama-server answers to (`--alias` in scripts/local-model.sh). */
export const LOCAL_MODEL_ID = 'smollm2-135m-instruct';

export interface LocalModelProvider {
  /** Provider name in the config (`[a-z0-9_-]`). */
  name: string;
  /** The sampling temperature this provider sends with every call. */
  temperature: number;
  maxTokens?: number;
}

/**
 * `config` plus one openai_compatible provider per entry, all at `baseUrl` (e.g.
 * http://127.0.0.1:58391/v1), price 0, with per-attempt timeouts generous enough for a 135M
 * model on a busy 2-core machine. Several entries at different temperatures make several
 * independent samples of one model: each call is its own provider call, consensus compares them.
 */
export function withLocalModelProviders(config: Config, baseUrl: string, entries: LocalModelProvider[]): Config {
  const models = { ...config.models };
  const perf = { ...config.performance.models };
  for (const e of entries) {
    models[e.name] = ProviderConfigSchema.parse({
      kind: 'openai_compatible',
      base_url: baseUrl,
      default_model: LOCAL_MODEL_ID,
      temperature: e.temperature,
      max_tokens: e.maxTokens ?? 48,
    });
    perf[e.name] = { max_concurrent: 3, timeout: 60, max_attempts: 2, initial_backoff_ms: 500 };
  }
  return {
    ...config,
    models,
    pricing: { ...config.pricing, [LOCAL_MODEL_ID]: { input: 0, output: 0 } },
    performance: { ...config.performance, models: perf },
  };
}
