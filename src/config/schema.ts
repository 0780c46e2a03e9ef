/**
 * `config.yaml`, in the product description's shape (framework, models, routing, consensus,
 * improvement, performance) plus `pricing` and `emulator`. Keys stay snake_case as written in
 * YAML. Secrets never live here: a provider names the environment variable holding its key.
 */
import { z } from 'zod';
import { DEFAULT_EMULATOR_PORT } from '../constants';
import { ComplexitySchema } from '../types';

const providerName = z.string().regex(/^[a-z0-9_-]+$/, 'provider names are [a-z0-9_-]');
const modelId = z.string().regex(/^[A-Za-z0-9._\-/]+$/, 'model ids are [A-Za-z0-9._-/]');

/** The provider kinds this project ships connectors for (src/providers/registry.ts). */
export const BUILT_IN_PROVIDER_KINDS = ['openai', 'anthropic', 'google', 'openai_compatible'] as const;
export type BuiltInProviderKind = (typeof BUILT_IN_PROVIDER_KINDS)[number];
/** Kinds the local emulator can answer for; openai_compatible and plugin kinds always call their own endpoint. */
export const EMULATED_PROVIDER_KINDS: readonly BuiltInProviderKind[] = ['openai', 'anthropic', 'google'];
/**
 * A built-in kind or one a plugin provides (src/plugins). Any well-formed name parses; once the
 * plugins are loaded, a kind nobody provides is a ConfigError naming `models.<name>.kind`.
 */
export const ProviderKindSchema = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'provider kinds are [a-z0-9_-] (a built-in kind or one a plugin provides)');
/** `string & {}` keeps the built-in names in editor completion. */
export type ProviderKind = BuiltInProviderKind | (string & {});

/**
 * How a request's provider calls run (README "Provider-call modes"). `activity`: Temporal
 * activities, each result recorded as it arrives, so a worker that dies never makes a completed
 * call again. `local`: local activities in the workflow's own worker, fewer round trips through
 * the server (lower latency), but calls completed in a workflow task that a dying worker did not
 * finish are made again.
 */
export const ProviderCallModeSchema = z.enum(['activity', 'local']);
export type ProviderCallMode = z.infer<typeof ProviderCallModeSchema>;

export const ProviderConfigSchema = z
  .object({
    kind: ProviderKindSchema,
    enabled: z.boolean().default(true),
    default_model: modelId,
    /** Models this provider may be asked for; the default model is always included. */
    models: z.array(modelId).default([]),
    /** Name of the environment variable that holds the API key (never the key itself). */
    api_key_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'api_key_env is the NAME of an environment variable, e.g. OPENAI_API_KEY')
      .optional(),
    base_url: z.url().optional(),
    max_tokens: z.number().int().positive().default(1024),
    temperature: z.number().min(0).max(2).default(0.7),
    /** Context window in tokens per model: a context-length failure fails over to a larger window. */
    context_windows: z.record(modelId, z.number().int().positive()).default({}),
  })
  .strict();
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;

export const RoutingRuleSchema = z
  .object({
    id: z.string().min(1).optional(),
    task_type: z.string().min(1),
    complexity: z.union([ComplexitySchema, z.literal('any')]).default('any'),
    /** `provider` or `provider:model`. */
    providers: z.array(z.string().min(1)).min(1),
    require_consensus: z.boolean().default(false),
    min_providers: z.number().int().min(1).optional(),
    /** Ordered fallback chain, tried when fewer than min_providers answered. */
    fallback: z.array(z.string().min(1)).default([]),
    /** How this route's provider calls run; default `performance.provider_calls`. */
    provider_calls: ProviderCallModeSchema.optional(),
  })
  .strict();
export type RoutingRule = z.infer<typeof RoutingRuleSchema>;

export const PriceSchema = z
  .object({
    input: z.number().nonnegative().describe('USD per million input tokens'),
    output: z.number().nonnegative().describe('USD per million output tokens'),
  })
  .strict();

export const FaultSchema = z
  .object({
    /** Share of calls that get this fault, in [0,1]; deterministic per prompt+model+attempt. */
    rate: z.number().min(0).max(1).default(1),
    /** HTTP status to return (429, 500, 503, 529, 401, ...), or `hang` / `malformed`. */
    kind: z.union([z.number().int().min(400).max(599), z.literal('hang'), z.literal('malformed')]),
    retry_after_s: z.number().nonnegative().optional(),
    /** Fault only the first N calls per model+prompt, so a retry of the same prompt succeeds. */
    times: z.number().int().positive().optional(),
  })
  .strict();
export type Fault = z.infer<typeof FaultSchema>;

export const EmulatedModelSchema = z
  .object({
    latency_ms: z.number().nonnegative().optional(),
    /** Probability in [0,1] that this model gives the correct (majority) answer. */
    accuracy: z.number().min(0).max(1).optional(),
    faults: z.array(FaultSchema).default([]),
  })
  .strict();

/** `consensus.strategies.similarity`: the embedding strategy (src/consensus/similarity.ts). */
export const SimilaritySettingsSchema = z
  .object({
    /** Folder holding model.onnx and tokenizer.json; default .cache/models/all-minilm-l6-v2 (`bash scripts/fetch-model.sh`). */
    model_path: z.string().min(1).optional(),
    /** Cosine similarity at or above which two answers agree; default `consensus.similarity_threshold`. */
    threshold: z.number().min(0).max(1).optional(),
  })
  .strict();
export type SimilaritySettings = z.infer<typeof SimilaritySettingsSchema>;

/** `consensus.strategies.voting`: majority vote over normalized answers (src/consensus/voting.ts). */
export const VotingSettingsSchema = z
  .object({
    /** Vote share the winning answer needs for the consensus to count as met. */
    threshold: z.number().min(0).max(1).default(0.6),
    /** What a vote weighs: 1 each, the provider's confidence, its historical accuracy, or both multiplied. */
    weights: z.enum(['none', 'confidence', 'accuracy', 'confidence_and_accuracy']).default('none'),
    /** How a tie between answers is broken (then highest confidence, then the earliest response). */
    tie_break: z.enum(['prefer_order', 'highest_confidence', 'first']).default('highest_confidence'),
    /** Providers (`provider` or `provider:model`) in order of preference, for `tie_break: prefer_order`. */
    prefer_order: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type VotingSettings = z.infer<typeof VotingSettingsSchema>;

/** `consensus.strategies.judge`: one model ranks the candidates (src/consensus/judge.ts). Off unless set. */
export const JudgeSettingsSchema = z
  .object({
    /** The judge's provider (`models.<name>`) and model; the worker needs a connector for it. */
    provider: providerName,
    model: modelId,
    /** Share of the responses that must give the judge's chosen answer for the consensus to count as met. */
    threshold: z.number().min(0).max(1).default(0.6),
    /** Output tokens the judge may use for its JSON verdict. */
    max_tokens: z.number().int().positive().default(512),
    /** Characters of each candidate shown to the judge; longer candidates are cut. */
    max_candidate_chars: z.number().int().positive().default(6000),
    /** Seconds the judge call may take. */
    timeout: z.number().positive().default(60),
  })
  .strict();
export type JudgeSettings = z.infer<typeof JudgeSettingsSchema>;

/** `resilience.circuit_breaker`: skip a provider (or provider:model) after repeated health failures, shared by all workers. */
export const CircuitBreakerSettingsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Health failures (429, 503/529, 5xx, timeouts, connection errors) within window_s that open the circuit. */
    failure_threshold: z.number().int().min(1).default(5),
    window_s: z.number().positive().default(60),
    /** Seconds an open circuit skips the provider; then one probe call is let through. */
    cooldown_s: z.number().positive().default(30),
    /**
     * A failure counts against the circuit only while at least this share of the worker's calls to
     * that provider (or model) failed within window_s: a busy provider with a few errors stays closed.
     */
    min_failure_rate: z.number().min(0).max(1).default(0.5),
  })
  .strict();
export type CircuitBreakerSettings = z.infer<typeof CircuitBreakerSettingsSchema>;

/** `resilience.rate_limits.<provider>`: shared by all workers; a limit left out is not enforced. */
export const ProviderRateLimitSchema = z
  .object({
    /** Requests per minute. */
    rpm: z.number().int().positive().optional(),
    /** Tokens per minute (prompt estimate + max output tokens per call). */
    tpm: z.number().int().positive().optional(),
  })
  .strict();
export type ProviderRateLimit = z.infer<typeof ProviderRateLimitSchema>;

/** Calendar periods in UTC. */
export const UsagePeriodSchema = z.enum(['day', 'month']);
export type UsagePeriod = z.infer<typeof UsagePeriodSchema>;

/** `resilience.quotas`: per-user request and token quotas; a quota left out is not enforced. */
export const QuotaSettingsSchema = z
  .object({
    period: UsagePeriodSchema.default('day'),
    per_user_requests: z.number().int().positive().optional(),
    per_user_tokens: z.number().int().positive().optional(),
  })
  .strict();
export type QuotaSettings = z.infer<typeof QuotaSettingsSchema>;

/** `resilience.budgets`: spend limits in USD; a budget left out is not enforced. */
export const BudgetSettingsSchema = z
  .object({
    period: UsagePeriodSchema.default('month'),
    per_user_usd: z.number().positive().optional(),
    global_usd: z.number().positive().optional(),
  })
  .strict();
export type BudgetSettings = z.infer<typeof BudgetSettingsSchema>;

/** `resilience.cache`: exact-match response cache (the database, or Redis when REDIS_URL is set). */
export const ResponseCacheSettingsSchema = z
  .object({
    enabled: z.boolean().default(false),
    ttl_s: z.number().positive().default(3600),
  })
  .strict();
export type ResponseCacheSettings = z.infer<typeof ResponseCacheSettingsSchema>;

/** `resilience.hedging`: start the next candidate when a call is slow, take the first good answer. */
export const HedgingSettingsSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** p95: after the provider's observed p95 latency; ms: after delay_ms. */
    after: z.enum(['p95', 'ms']).default('p95'),
    /** Milliseconds to wait with `after: ms`; with `after: p95`, the wait while no p95 is known yet. */
    delay_ms: z.number().int().positive().optional(),
  })
  .strict()
  .refine((h) => h.after !== 'ms' || h.delay_ms !== undefined, { message: 'hedging.after "ms" needs delay_ms', path: ['delay_ms'] });
export type HedgingSettings = z.infer<typeof HedgingSettingsSchema>;

/** `resilience`: circuit breakers, rate limits, quotas, budgets, response cache, hedging. Permissive by default. */
export const ResilienceSettingsSchema = z
  .object({
    circuit_breaker: CircuitBreakerSettingsSchema.prefault({}),
    rate_limits: z.record(providerName, ProviderRateLimitSchema).default({}),
    quotas: QuotaSettingsSchema.prefault({}),
    budgets: BudgetSettingsSchema.prefault({}),
    cache: ResponseCacheSettingsSchema.prefault({}),
    hedging: HedgingSettingsSchema.prefault({}),
    /** Cap on a provider-requested wait (Retry-After, rate-limit reset headers), in seconds. */
    max_retry_after_s: z.number().positive().default(60),
  })
  .strict();
export type ResilienceSettings = z.infer<typeof ResilienceSettingsSchema>;

/**
 * `retention`: what is kept how long, enforced by the scheduled retention workflow
 * (workflows/retention.ts, schedule src/retention/schedule.ts; paused when enable is false).
 */
export const RetentionSettingsSchema = z
  .object({
    enable: z.boolean().default(true),
    /** Interactions older than this many days are deleted with their provider calls and feedback (and usage ledger rows of past periods). */
    days: z.number().int().positive().default(90),
    /** Cached embeddings (EmbeddingCache) older than this many days are deleted (they are recomputed when needed). */
    embedding_days: z.number().int().positive().default(30),
    /** Hours between two runs of the retention workflow. */
    interval_hours: z.number().int().positive().default(24),
    /** Rows one sweep activity deletes per table and call; the workflow calls it until nothing is left. */
    batch_size: z.number().int().positive().max(10_000).default(500),
  })
  .strict();
export type RetentionSettings = z.infer<typeof RetentionSettingsSchema>;

export const ConfigSchema = z
  .object({
    framework: z
      .object({
        /** Name and version of this deployment: the labels of the orchestrator_info metric (src/metrics). */
        name: z.string().default('AI Orchestration Framework'),
        version: z.string().default('1.0.0'),
        /** false: no /metrics server, no metric recorded, no collector called (src/metrics), no Temporal SDK metrics. */
        enable_metrics: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    models: z.record(providerName, ProviderConfigSchema).refine((m) => Object.keys(m).length > 0, 'at least one provider'),
    pricing: z.record(modelId, PriceSchema).default({}),
    routing: z
      .object({
        /** static: rules and the default route in order; performance_based: ranked by measured history with exploration. */
        default_strategy: z.enum(['static', 'performance_based']).default('static'),
        complexity_threshold: z.number().min(0).max(1).default(0.7),
        require_consensus_for_complex: z.boolean().default(true),
        /** The default route: used when no rule matches the task type and complexity. */
        default_providers: z.array(z.string().min(1)).min(1),
        default_min_providers: z.number().int().min(1).default(1),
        default_fallback: z.array(z.string().min(1)).default([]),
        rules: z.array(RoutingRuleSchema).default([]),
        /**
         * Routing strategies plugins provide, by task type (`"*"`: every task type): the named
         * strategy orders each planned route's candidates instead of the policy's ranking (src/plugins).
         */
        custom_strategies: z.record(z.string().min(1), z.string().min(1)).default({}),
        /** A cheap model classifies complexity (off by default); the default evaluator decides when it cannot. */
        llm_evaluator: z
          .object({
            enabled: z.boolean().default(false),
            provider: providerName,
            model: modelId.optional(),
            timeout: z.number().positive().default(10),
          })
          .strict()
          .optional(),
      })
      .strict(),
    consensus: z
      .object({
        default_strategy: z.string().default('lexical'),
        similarity_threshold: z.number().min(0).max(1).default(0.8),
        confidence_threshold: z.number().min(0).max(1).default(0.7),
        /** Strategy per task type (overrides default_strategy; a request's consensusStrategy overrides both). */
        task_types: z.record(z.string(), z.string().min(1)).default({}),
        /** Cancel the calls still running once enough responses agree that the outcome cannot change. */
        early_stop: z.boolean().default(true),
        /** When consensus is required and agreement is below confidence_threshold. */
        escalation: z
          .object({
            enabled: z.boolean().default(true),
            /** Most responses a request may gather by escalating. */
            max_providers: z.number().int().min(2).max(16).default(4),
            /** Still below after escalating: answer flagged low-confidence, or fail with ConsensusNotReached. */
            on_low_confidence: z.enum(['flag', 'fail']).default('flag'),
          })
          .strict()
          .prefault({}),
        /** Per-strategy settings by strategy name; the built-in ones are typed, others free-form. */
        strategies: z
          .object({ similarity: SimilaritySettingsSchema.optional(), voting: VotingSettingsSchema.prefault({}), judge: JudgeSettingsSchema.optional() })
          .catchall(z.record(z.string(), z.unknown()))
          .prefault({}),
      })
      .strict()
      .prefault({}),
    improvement: z
      .object({
        enable: z.boolean().default(true),
        analysis_interval: z.number().positive().default(24),
        auto_apply_threshold: z.number().min(0).max(1).default(0.9),
        min_data_points: z.number().int().positive().default(100),
        /** Hours of history one run analyses (compared with the window of the same length before it); default analysis_interval. */
        window_hours: z.number().positive().optional(),
        /** Family-wise significance level of a run's anomaly tests (Bonferroni over the tests it makes). */
        anomaly_alpha: z.number().gt(0).lt(1).default(0.01),
        /** Smallest rise in a provider's error rate (absolute) worth acting on. */
        min_error_rate_increase: z.number().gt(0).lt(1).default(0.05),
        /** Smallest rise in a provider's median latency (ratio) worth acting on. */
        min_latency_ratio: z.number().gt(1).default(1.3),
        /** Calls each side of a comparison needs before it is tested at all. */
        min_calls_per_test: z.number().int().min(5).default(30),
        /** A/B experiments: overall significance (spent over the looks), and the stricter level of the guard rails that stop a harmful variant. */
        experiments: z
          .object({
            alpha: z.number().gt(0).lt(1).default(0.05),
            guardrail_alpha: z.number().gt(0).lt(1).default(0.001),
          })
          .strict()
          .prefault({}),
        /** Ask a model for better system prompts from poorly agreed interactions; each candidate becomes an experiment. Off by default. */
        meta_prompting: z
          .object({
            enabled: z.boolean().default(false),
            /** `provider:model` that writes the candidate prompts (default: the first default provider). */
            model: z.string().regex(/^[a-z0-9_-]+(:[A-Za-z0-9._\-/]+)?$/, 'expected "<provider>" or "<provider>:<model>"').optional(),
            /** Agreement below this marks an interaction as a sample worth learning from. */
            agreement_below: z.number().min(0).max(1).default(0.5),
            /** Low-agreement interactions a task type needs before a prompt is proposed for it. */
            min_samples: z.number().int().positive().default(20),
            /** Samples shown to the model. */
            max_samples: z.number().int().positive().max(50).default(8),
            /** Share of the task type's traffic the prompt experiment takes. */
            traffic_share: z.number().gt(0).max(1).default(0.1),
            /** Planned samples per variant of the prompt experiment. */
            samples_per_variant: z.number().int().min(20).default(400),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    performance: z
      .object({
        max_concurrent_requests: z.number().int().positive().default(50),
        /** Seconds a whole request may take. */
        request_timeout: z.number().positive().default(120),
        /** How provider calls run unless a routing rule says otherwise: `activity` (durable per call) or `local` (lower latency). */
        provider_calls: ProviderCallModeSchema.default('activity'),
        models: z
          .record(
            providerName,
            z
              .object({
                max_concurrent: z.number().int().positive().default(20),
                /** Seconds one attempt of one provider call may take. */
                timeout: z.number().positive().default(30),
                max_attempts: z.number().int().min(1).default(3),
                initial_backoff_ms: z.number().int().positive().default(500),
              })
              .strict(),
          )
          .default({}),
      })
      .strict()
      .prefault({}),
    resilience: ResilienceSettingsSchema.prefault({}),
    retention: RetentionSettingsSchema.prefault({}),
    /**
     * Plugins (src/plugins): `modules` lists module paths (relative to the config file) or npm
     * package names; the `plugins/` folder next to the config file is scanned unless `scan_folder`
     * is false. Every other key is the settings section of the plugin of that name, validated by
     * the plugin's own schema when the worker loads it.
     */
    plugins: z
      .object({
        modules: z.array(z.string().min(1)).default([]),
        scan_folder: z.boolean().default(true),
      })
      .catchall(z.unknown())
      .prefault({}),
    /** Event hooks (src/hooks): the time limit of one hook call; a hook past it is logged and counted, never awaited by a request. */
    hooks: z
      .object({
        timeout_ms: z.number().int().positive().max(600_000).default(5000),
      })
      .strict()
      .prefault({}),
    emulator: z
      .object({
        /** auto: providers without an API key in the environment are served by the emulator. */
        mode: z.enum(['auto', 'always', 'never']).default('auto'),
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(DEFAULT_EMULATOR_PORT),
        latency_ms: z.number().nonnegative().default(20),
        models: z.record(modelId, EmulatedModelSchema).default({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
