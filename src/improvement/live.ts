/**
 * Experiments on live traffic: the worker keeps the running experiments in memory (refreshed
 * every few seconds from the database, never on a request's path), and request planning assigns
 * each request deterministically (assignment.ts) and applies its variant:
 *   routing_policy      the variant's routing update on top of the current policy
 *   consensus_strategy  the variant's strategy
 *   prompt_template     the variant's system prompt
 * The assignment is recorded on the interaction (experimentId, variant), which is what the
 * improvement workflow's analysis reads.
 */
import type { Logger } from '../logger';
import { assignRequest } from './assignment';
import { ConsensusVariantConfigSchema, PromptVariantConfigSchema, variantRoutingUpdate, type Experiment } from './experiments';
import type { RoutingUpdate } from '../routing/policy';

export interface RunningExperimentsOptions {
  load: () => Promise<Experiment[]>;
  /** Default 5000 ms. */
  refreshIntervalMs?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export class RunningExperiments {
  private experiments: Experiment[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;
  private failing = false;

  constructor(private readonly options: RunningExperimentsOptions) {}

  /** Running experiments of a task type, as of the last refresh. Never waits. */
  running(taskType: string): Experiment[] {
    return this.experiments.filter((e) => e.taskType === taskType);
  }

  refresh(): Promise<void> {
    this.inflight ??= this.options
      .load()
      .then((list) => {
        this.experiments = list.filter((e) => e.status === 'running');
        if (this.failing) this.options.logger?.info({ running: this.experiments.length }, 'experiments refresh recovered');
        this.failing = false;
      })
      .catch((err: unknown) => {
        if (!this.failing) this.options.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'experiments refresh failed; keeping the last list');
        this.failing = true;
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs ?? 5000);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inflight;
  }
}

/** What a request's variant changes. */
export interface VariantEffect {
  experimentId: string;
  variant: string;
  kind: Experiment['kind'];
  routingUpdate: RoutingUpdate | null;
  consensusStrategy: string | null;
  /** prompt_template: the system prompt to use (null: none); undefined: unchanged. */
  systemPrompt?: string | null;
}

/** The experiment variant of a request and what it changes; null when no running experiment takes it. */
export function variantFor(experiments: readonly Experiment[], request: { requestId: string; taskType: string }): VariantEffect | null {
  const assignment = assignRequest(experiments, request);
  if (!assignment) return null;
  const experiment = experiments.find((e) => e.id === assignment.experimentId)!;
  const config = experiment.variants.find((v) => v.name === assignment.variant)?.config ?? {};
  const effect: VariantEffect = { ...assignment, kind: experiment.kind, routingUpdate: null, consensusStrategy: null };
  if (experiment.kind === 'routing_policy') effect.routingUpdate = variantRoutingUpdate(experiment, assignment.variant);
  if (experiment.kind === 'consensus_strategy') {
    const parsed = ConsensusVariantConfigSchema.safeParse(config);
    if (parsed.success) effect.consensusStrategy = parsed.data.strategy;
  }
  if (experiment.kind === 'prompt_template') {
    const parsed = PromptVariantConfigSchema.safeParse(config);
    if (parsed.success) effect.systemPrompt = parsed.data.systemPrompt;
  }
  return effect;
}
