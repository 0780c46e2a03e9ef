/**
 * Activities of the improvement workflows (workflows/improvement.ts): read the configuration,
 * analyse the history window and propose, analyse running experiments, ask a model for better
 * prompts (meta-prompting, off unless configured), record the report, make sure the
 * routing-policy workflow runs, wait for the outcome of a routing change, and record decisions.
 *
 * Built by a factory from its dependencies; the integrator merges it into the worker's activities:
 *   ...createImprovementActivities({ config, store: createImprovementStore(db, env.DATABASE_URL), connectors, logger })
 * Typed store errors become non-retryable ApplicationFailures whose type is the error code.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Config } from '../src/config/schema';
import { analyseWindow, type AnalysisSettings, type WindowAnalysis } from '../src/improvement/analysis';
import { ImprovementError } from '../src/improvement/errors';
import { analyseExperiment, nextLooks, previousFraction, type ExperimentInput } from '../src/improvement/experiments';
import { metaPromptRequest, parseMetaPromptResponse, promptExperimentProposal } from '../src/improvement/meta-prompt';
import { buildProposals, proposalFromExperiment, type PolicyView, type Proposal } from '../src/improvement/proposals';
import type { ReportExperiment, ReportProposal } from '../src/improvement/report';
import type { ExperimentUpdate, ImprovementStore, StoredProposal } from '../src/improvement/store';
import type { Logger } from '../src/logger';
import type { EventHooks } from '../src/hooks';
import { ProviderCallError } from '../src/providers/errors';
import type { ModelConnector } from '../src/providers/types';
import { ROUTING_POLICY_WORKFLOW_TYPE } from '../src/routing/constants';
import type { RoutingPolicy } from '../src/routing/policy';
import { currentPolicyQuery, routingChangeOutcomeQuery, type ChangeOutcome, type RoutingPolicyWorkflowInput } from '../workflows/routing-policy';
import { traceProviderCall } from '../src/tracing/provider-span';

export interface ImprovementActivityDependencies {
  config: Pick<Config, 'improvement' | 'performance' | 'routing' | 'models'>;
  store: ImprovementStore;
  /** For meta-prompting (the worker's connectors); without them meta-prompting reports that it cannot run. */
  connectors?: ReadonlyMap<string, ModelConnector>;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Most interactions read per window (newest kept). Default 50 000. */
  maxRowsPerWindow?: number;
  /** Most interactions read per experiment. Default 100 000. */
  maxRowsPerExperiment?: number;
  /** A Temporal client for the routing-policy workflow; default: the worker's (Context.current().client). */
  client?: Client;
  /** The worker's event hooks (src/hooks): `improvement.applied` once a proposal's application is recorded. */
  hooks?: Pick<EventHooks, 'emitWith'>;
}

/** The configuration a run uses (improvement.* with defaults resolved). */
export interface ImprovementSettings {
  enable: boolean;
  analysisIntervalHours: number;
  windowHours: number;
  minDataPoints: number;
  autoApplyThreshold: number;
  anomalyAlpha: number;
  minErrorRateIncrease: number;
  minLatencyRatio: number;
  minCallsPerTest: number;
  experimentAlpha: number;
  guardrailAlpha: number;
  metaPrompting: boolean;
}

export interface AnalyseInput {
  reportId: string;
  /** Whose policy the proposals are made against (its currentPolicy query; the latest stored version if it does not answer). */
  routingPolicyWorkflowId: string;
  /** ISO-8601: the end of the window (exclusive). */
  windowEnd: string;
  settings: ImprovementSettings;
}

export interface AnalyseOutput {
  analysis: WindowAnalysis;
  policy: PolicyView | null;
  proposals: Proposal[];
  notes: string[];
}

export interface ExperimentsOutput {
  experiments: ReportExperiment[];
  updates: ExperimentUpdate[];
  proposals: Proposal[];
}

export interface ProposalDecisionRecord {
  proposalId: string;
  status: 'applied' | 'accepted' | 'rejected';
  decidedBy: string;
  appliedVersion: number | null;
  outcome: string;
}

const HOUR_MS = 3_600_000;
/** Intervals of history before the previous window that form the last-healthy baseline. */
const BASELINE_INTERVALS = 4;

function failure(err: unknown): unknown {
  if (err instanceof ImprovementError) return ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: true, details: [err.details] });
  return err;
}

async function typed<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw failure(err);
  }
}

export function createImprovementActivities(deps: ImprovementActivityDependencies) {
  const { config, store } = deps;
  const maxRows = deps.maxRowsPerWindow ?? 50_000;
  const maxExperimentRows = deps.maxRowsPerExperiment ?? 100_000;
  const client = () => deps.client ?? Context.current().client;

  function settingsFromConfig(): ImprovementSettings {
    const i = config.improvement;
    return {
      enable: i.enable,
      analysisIntervalHours: i.analysis_interval,
      windowHours: i.window_hours ?? i.analysis_interval,
      minDataPoints: i.min_data_points,
      autoApplyThreshold: i.auto_apply_threshold,
      anomalyAlpha: i.anomaly_alpha,
      minErrorRateIncrease: i.min_error_rate_increase,
      minLatencyRatio: i.min_latency_ratio,
      minCallsPerTest: i.min_calls_per_test,
      experimentAlpha: i.experiments.alpha,
      guardrailAlpha: i.experiments.guardrail_alpha,
      metaPrompting: i.meta_prompting.enabled,
    };
  }

  return {
    /** improvement.* from this worker's configuration, defaults resolved. */
    loadImprovementSettings(): Promise<ImprovementSettings> {
      return Promise.resolve(settingsFromConfig());
    },

    /** Load the window and the one before it, analyse, and propose against the current routing policy. */
    analyseImprovements(input: AnalyseInput): Promise<AnalyseOutput> {
      return typed(async () => {
        const s = input.settings;
        const end = Date.parse(input.windowEnd);
        if (!Number.isFinite(end)) throw new ImprovementError('InvalidDecision', `windowEnd is not a time: ${input.windowEnd}`);
        const span = s.windowHours * HOUR_MS;
        const window = { start: new Date(end - span).toISOString(), end: new Date(end).toISOString() };
        const previousWindow = { start: new Date(end - 2 * span).toISOString(), end: window.start };
        // The model's longer history before the previous window (four intervals): the last-healthy
        // baseline that catches a rise the window-to-window comparison missed.
        const historyWindow = { start: new Date(end - (2 + BASELINE_INTERVALS) * span).toISOString(), end: previousWindow.start };
        const [current, previous, history] = await Promise.all([
          store.loadInteractions(window, maxRows),
          store.loadInteractions(previousWindow, maxRows),
          store.loadInteractions(historyWindow, maxRows),
        ]);
        const notes: string[] = [];
        let latest: { version: number; policy: RoutingPolicy } | null = null;
        try {
          // A just-started routing-policy workflow answers once it has loaded its seed: a few tries.
          const handle = client().workflow.getHandle(input.routingPolicyWorkflowId);
          const deadline = Date.now() + 15_000;
          for (;;) {
            try {
              const policy = await handle.query(currentPolicyQuery);
              latest = { version: policy.version, policy };
              break;
            } catch (err) {
              if (Date.now() >= deadline) throw err;
              await new Promise((resolve) => setTimeout(resolve, 250));
            }
          }
        } catch (err) {
          latest = await store.latestPolicy();
          notes.push(`the routing-policy workflow ${input.routingPolicyWorkflowId} did not answer (${(err as Error).message}); proposals are made against the latest stored policy version${latest ? ` (v${latest.version})` : ''}`);
        }
        if (current.truncated) notes.push(`the window has more than ${maxRows} requests: the newest ${maxRows} were analysed`);
        if (previous.truncated) notes.push(`the previous window has more than ${maxRows} requests: the newest ${maxRows} were analysed`);
        if (history.truncated) notes.push(`the baseline history has more than ${maxRows} requests: the newest ${maxRows} were analysed`);
        const settings: AnalysisSettings = { anomalyAlpha: s.anomalyAlpha, minErrorRateIncrease: s.minErrorRateIncrease, minLatencyRatio: s.minLatencyRatio, minCallsPerTest: s.minCallsPerTest };
        const analysis = analyseWindow({ current: current.rows, previous: previous.rows, window, previousWindow, baseline: { rows: history.rows, window: historyWindow }, settings });
        const policy: PolicyView | null = latest ? { version: latest.version, demoted: Object.keys(latest.policy.demoted), weights: latest.policy.weights } : null;
        if (!policy) notes.push('no routing policy version is recorded yet: nothing can be promoted');
        const timeouts: Record<string, number> = {};
        for (const [provider, p] of Object.entries(config.performance.models)) timeouts[provider] = p.timeout;
        const proposals = buildProposals({
          reportId: input.reportId,
          analysis,
          policy,
          settings: { anomalyAlpha: s.anomalyAlpha, minErrorRateIncrease: s.minErrorRateIncrease, minCallsPerTest: s.minCallsPerTest, timeouts, defaultTimeoutSeconds: 30 },
        });
        deps.logger?.info({ reportId: input.reportId, requests: current.rows.length, anomalies: analysis.anomalies.length, proposals: proposals.length }, 'improvement window analysed');
        return { analysis, policy, proposals, notes };
      });
    },

    /** Look once at every running experiment: guard rails, the primary metric at this look's alpha, a winner's proposal. */
    analyseRunningExperiments(input: { reportId: string; at: string; alpha: number; guardrailAlpha: number }): Promise<ExperimentsOutput> {
      return typed(async () => {
        const running = await store.listExperiments({ status: 'running', limit: 500 });
        const out: ExperimentsOutput = { experiments: [], updates: [], proposals: [] };
        for (const e of running.sort((a, b) => (a.id < b.id ? -1 : 1))) {
          const observations = await store.experimentObservations(e.id, maxExperimentRows);
          const analysis = analyseExperiment(e, observations, { alpha: input.alpha, guardrailAlpha: input.guardrailAlpha, previousFraction: previousFraction(e.result), at: input.at });
          const proposal = proposalFromExperiment(input.reportId, e, analysis);
          if (proposal) out.proposals.push(proposal);
          out.experiments.push({ experimentId: e.id, name: e.name, kind: e.kind, taskType: e.taskType, analysis, proposalId: proposal?.id ?? null });
          out.updates.push({ experimentId: e.id, action: analysis.action, record: { looks: nextLooks(e.result?.looks ?? [], analysis), analysis }, reason: analysis.reason, at: input.at });
        }
        return out;
      });
    },

    /**
     * Meta-prompting: for each task type with enough low-agreement requests in the window (and no
     * prompt experiment running), ask the configured model for a clearer system prompt; each
     * candidate becomes a prompt_experiment proposal. Provider failures become notes: the run goes on.
     */
    proposePromptExperiments(input: { reportId: string; windowEnd: string; windowHours: number }): Promise<{ proposals: Proposal[]; notes: string[] }> {
      return typed(async () => {
        const m = config.improvement.meta_prompting;
        const notes: string[] = [];
        if (!m.enabled) return { proposals: [], notes: ['meta-prompting is off (improvement.meta_prompting.enabled)'] };
        const selector = m.model ?? config.routing.default_providers[0] ?? '';
        const i = selector.indexOf(':');
        const provider = i < 0 ? selector : selector.slice(0, i);
        const model = i < 0 ? config.models[provider]?.default_model : selector.slice(i + 1);
        const connector = deps.connectors?.get(provider);
        if (!connector || !model) return { proposals: [], notes: [`meta-prompting: no connector for "${selector}" on this worker`] };
        const end = Date.parse(input.windowEnd);
        const window = { start: new Date(end - input.windowHours * HOUR_MS).toISOString(), end: new Date(end).toISOString() };
        const found = await store.lowAgreementSamples({ window, agreementBelow: m.agreement_below, minSamples: m.min_samples, maxSamples: m.max_samples });
        const running = await store.listExperiments({ status: 'running', limit: 500 });
        const proposals: Proposal[] = [];
        for (const [taskType, { count, samples }] of found) {
          if (running.some((e) => e.kind === 'prompt_template' && e.taskType === taskType)) {
            notes.push(`meta-prompting: ${taskType} already has a prompt experiment running`);
            continue;
          }
          const current = await store.currentSystemPrompt(taskType);
          const request = metaPromptRequest({ taskType, currentSystemPrompt: current, samples });
          let text: string;
          try {
            const response = await traceProviderCall({ provider: connector.provider, kind: connector.kind, model, purpose: 'improvement' }, () =>
              connector.generate({ model, prompt: request.prompt, systemPrompt: request.systemPrompt, temperature: 0.2, maxTokens: 1500 }, { timeoutMs: 60_000 }),
            );
            text = response.content;
          } catch (err) {
            if (!(err instanceof ProviderCallError)) throw err;
            notes.push(`meta-prompting: ${selector} failed for ${taskType} (${err.type}): no prompt proposed`);
            continue;
          }
          const parsed = parseMetaPromptResponse(text);
          if (!parsed.ok) {
            notes.push(`meta-prompting: ${selector} gave no usable prompt for ${taskType}: ${parsed.reason}`);
            continue;
          }
          if (parsed.candidate.systemPrompt === current) {
            notes.push(`meta-prompting: ${selector} proposed the current prompt again for ${taskType}`);
            continue;
          }
          proposals.push(
            promptExperimentProposal({
              reportId: input.reportId,
              taskType,
              currentSystemPrompt: current,
              candidate: parsed.candidate,
              lowAgreementCount: count,
              settings: { trafficShare: m.traffic_share, samplesPerVariant: m.samples_per_variant, model: `${provider}:${model}` },
            }),
          );
        }
        if (found.size === 0) notes.push(`meta-prompting: no task type had ${m.min_samples} requests with agreement below ${m.agreement_below}`);
        return { proposals, notes };
      });
    },

    /** The report, its proposals and the experiment updates, in one transaction; idempotent by report id. */
    recordImprovementReport(input: { report: Parameters<ImprovementStore['saveReport']>[0]['report']; experimentUpdates: ExperimentUpdate[] }): Promise<{ created: boolean }> {
      return typed(() => store.saveReport({ report: input.report, experimentUpdates: input.experimentUpdates }));
    },

    /** Record in the stored report what became of its proposals. */
    finaliseImprovementReport(input: { reportId: string; proposals: ReportProposal[] }): Promise<void> {
      return typed(() => store.updateReportProposals(input.reportId, input.proposals));
    },

    loadProposal(input: { proposalId: string }): Promise<StoredProposal> {
      return typed(() => store.getProposal(input.proposalId));
    },

    recordProposalDecision(input: ProposalDecisionRecord): Promise<StoredProposal> {
      return typed(async () => {
        const stored =
          input.status === 'rejected'
            ? await store.rejectProposal(input.proposalId, { decidedBy: input.decidedBy, reason: input.outcome })
            : await store.markProposal(input.proposalId, { status: input.status, decidedBy: input.decidedBy, appliedVersion: input.appliedVersion, outcome: input.outcome });
        // Applied (a routing version, or the experiment it describes started) and recorded: the moment hooks hear of it.
        if (input.status === 'applied') {
          deps.hooks?.emitWith('improvement.applied', () => ({ proposalId: stored.id, kind: stored.kind, policyVersion: stored.appliedVersion, attempt: Context.current().info.attempt, at: Date.now() }));
        }
        return stored;
      });
    },

    /** Create the experiment an approved prompt_experiment proposal describes (idempotent by its id). */
    startProposedExperiment(input: { experiment: ExperimentInput }): Promise<{ experimentId: string }> {
      return typed(async () => ({ experimentId: (await store.createExperiment(input.experiment)).id }));
    },

    /** Start the routing-policy workflow on this task queue if it is not running (a signal to a missing workflow fails). */
    async ensureRoutingPolicyRunning(input: { workflowId: string }): Promise<void> {
      const ctx = Context.current();
      await client().workflow.start(ROUTING_POLICY_WORKFLOW_TYPE, {
        workflowId: input.workflowId,
        taskQueue: ctx.info.taskQueue,
        args: [{} satisfies RoutingPolicyWorkflowInput],
        workflowIdConflictPolicy: 'USE_EXISTING',
        staticSummary: 'routing policy: rules, weights, exploration, version history',
      });
    },

    /**
     * What the routing-policy workflow made of the change sent with id `changeId`: polls its
     * routingChangeOutcome query (heartbeating) until it answers or `timeoutMs` passed (null).
     */
    async awaitRoutingChangeOutcome(input: { workflowId: string; changeId: string; timeoutMs: number }): Promise<ChangeOutcome | null> {
      const ctx = Context.current();
      const handle = client().workflow.getHandle(input.workflowId);
      const deadline = Date.now() + input.timeoutMs;
      for (;;) {
        ctx.heartbeat();
        const found = await handle.query(routingChangeOutcomeQuery, input.changeId).catch(() => null);
        if (found) return found;
        if (Date.now() >= deadline) return null;
        await ctx.sleep(250);
      }
    },
  };
}

export type ImprovementActivities = ReturnType<typeof createImprovementActivities>;
