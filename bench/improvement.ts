/**
 * The self-improvement loop on generated traffic (`npm run bench:improvement`).
 *
 * (a) detection: a provider degrades (error rate, or latency) halfway through a scheduled
 *     interval; how many requests after the degradation until a scheduled run has demoted it
 *     through the routing-policy workflow. Target: applied within two scheduled runs of 200
 *     requests each, for every seed of the two primary scenarios (error rate 2% -> 20%, median
 *     latency x2); a sweep of milder and stronger degradations is reported beside them. Then real
 *     requests check that the worker routes around the demoted model.
 * (b) experiment: a routing variant with a better good-outcome rate (90% vs 80%) on half of one
 *     task type's traffic, five seeds; how many requests until it concludes, and how much of the
 *     task type's traffic the better variant serves during the experiment and after it (its rule
 *     applied, or not), and the winner's good rate as its proposal estimates it (shrunk, with a 95%
 *     interval) beside the one seen when it stopped and the true 90%. No target in the issue.
 * (c) false alarms: 20 scheduled runs over identical providers. Target: no change applied.
 *
 * What is real and what is simulated:
 * - real: the improvement workflow (analysis, experiments, decisions, report) runs on the dev
 *   server with the worker's real activities over the real database; changes are applied through
 *   `applyRoutingUpdate` signals to a real routing-policy workflow; the runs are started as the
 *   schedule starts them (trigger 'schedule'), one per 200 requests; the requests sent after a
 *   change are real request workflows (emulated providers) planned by the real worker.
 * - simulated: the history the runs analyse. Requests are generated (seeded) with their provider
 *   calls and written with the repository's own persistInteraction (the shape the request workflow
 *   writes), spread over simulated time so that 200 requests make one scheduled interval (one
 *   simulated hour; each run analyses that hour against the one before, and against its
 *   last-healthy baseline: what the activity loads, today the older half of the hour before).
 *   Experiment assignment in the generated traffic is the real assignment function
 *   (assignRequest), and the route of a request follows the routing-policy workflow's current
 *   policy.
 *
 * The improvement settings are config.yaml's (min_data_points, auto_apply_threshold, anomaly
 * alpha, minimum effects), except the window, which is one interval.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { OrchestratorClient } from '../client/orchestrator-client';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import type { Config, RoutingRule } from '../src/config/schema';
import { assignRequest } from '../src/improvement/assignment';
import { IMPROVEMENT_WORKFLOW_TYPE } from '../src/improvement/constants';
import { minSampleSizePerArm } from '../src/improvement/statistics';
import { openImprovementStore, type ImprovementStoreHandle } from '../src/improvement/store';
import { createLogger } from '../src/logger';
import type { InteractionRecord, ProviderCallRecord } from '../src/memory/repository';
import { seededRandom } from '../src/routing/bandit';
import { createWorkerRuntime, type WorkerRuntime } from '../src/runtime';
import type { ImprovementWorkflowResult, improvementWorkflow } from '../workflows/improvement';
import { currentPolicyQuery } from '../workflows/routing-policy';
import { round } from './stats';
import { dataConverterFor } from '../src/temporal/data-converter';

const INTERVAL = 200;
const HOUR_MS = 3_600_000;
const SPACING_MS = HOUR_MS / INTERVAL;
/** Where in its interval a degradation starts (requests after the previous run), unless a scenario says otherwise. */
const ONSET_OFFSET = 100;
const MAX_RUNS_AFTER_ONSET = Number(process.env['BENCH_IMPROVEMENT_MAX_RUNS'] ?? 5);
/** Seeds per primary detection scenario (the sweep runs one each). */
const DETECTION_REPLICATES = Number(process.env['BENCH_IMPROVEMENT_DETECTION_REPLICATES'] ?? 5);
const QUIET_RUNS = Number(process.env['BENCH_IMPROVEMENT_QUIET_RUNS'] ?? 20);
const MAX_EXPERIMENT_INTERVALS = Number(process.env['BENCH_IMPROVEMENT_EXPERIMENT_INTERVALS'] ?? 12);
const REAL_REQUESTS = 20;
const TARGET_RUNS = 2;
const TARGET_FALSE_ALARMS = 0;
/** Simulated history lives in 2025 (outside today's real requests), each part in its own weeks. */
const EPOCH = Date.parse('2025-03-03T00:00:00.000Z');
const WEEK_MS = 7 * 24 * HOUR_MS;

Runtime.install({ logger: new DefaultLogger('ERROR') });

const stamp = Date.now().toString(36);

// ---------------------------------------------------------------------------------------------
// Generated traffic

interface Profile {
  provider: string;
  model: string;
  errorRate: number;
  latencyMs: number;
  costUsd: number;
  /** Probability a successful answer agrees with the chosen one. */
  agreeRate: number;
}

const HEALTHY: Profile[] = [
  { provider: 'openai', model: 'gpt-4o-mini', errorRate: 0.02, latencyMs: 800, costUsd: 0.0004, agreeRate: 0.95 },
  { provider: 'anthropic', model: 'claude-haiku-4-5', errorRate: 0.02, latencyMs: 800, costUsd: 0.0004, agreeRate: 0.95 },
  { provider: 'google', model: 'gemini-2.0-flash', errorRate: 0.02, latencyMs: 800, costUsd: 0.0004, agreeRate: 0.95 },
];
const DEGRADED_TARGET = 'openai:gpt-4o-mini';

function withOpenai(change: Partial<Profile>): Profile[] {
  return HEALTHY.map((p) => (p.provider === 'openai' ? { ...p, ...change } : p));
}

const TASK_TYPES = ['question_answering', 'code_generation', 'summarization'];
const COMPLEXITIES = ['simple', 'medium', 'complex'] as const;

type Random = () => number;

function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(Math.max(1e-12, random()))) * Math.cos(2 * Math.PI * random());
}

function call(i: number, p: Profile, random: Random): ProviderCallRecord & { agrees: boolean } {
  if (random() < p.errorRate) {
    return { callIndex: i, provider: p.provider, model: p.model, attempts: 3, status: 'failed', hedged: false, errorType: 'ProviderServerError', errorMessage: 'HTTP 500 (generated)', latencyMs: null, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null, agrees: false };
  }
  const latencyMs = Math.round(p.latencyMs * Math.exp(0.25 * normal(random)));
  return { callIndex: i, provider: p.provider, model: p.model, attempts: 1, status: 'succeeded', hedged: false, errorType: null, errorMessage: null, latencyMs, tokensIn: 40, tokensOut: 60, costUsd: p.costUsd, finishReason: 'stop', providerRequestId: null, agrees: random() < p.agreeRate };
}

/** A consensus request fanned out to every profile, completed at `at`. */
function consensusRequest(id: string, n: number, at: number, profiles: readonly Profile[], random: Random): InteractionRecord {
  const calls = profiles.map((p, i) => call(i, p, random));
  const answered = calls.filter((c) => c.status === 'succeeded');
  const dissenting = answered.filter((c) => !c.agrees).map((c) => c.provider);
  const consensus = answered.length > 1;
  const agreement = consensus ? (answered.length - dissenting.length) / answered.length : null;
  const processingTimeMs = Math.max(0, ...answered.map((c) => c.latencyMs ?? 0)) + 40;
  return {
    workflowId: `llm-request-${id}`,
    requestId: id,
    userId: 'bench',
    taskType: TASK_TYPES[n % TASK_TYPES.length]!,
    complexity: COMPLEXITIES[n % COMPLEXITIES.length]!,
    complexityScore: 0.5,
    prompt: `generated request ${id}`,
    systemPrompt: null,
    response: answered.length > 0 ? `answer ${id}` : null,
    confidence: agreement,
    agreement,
    consensusStrategy: 'similarity',
    consensusApplied: consensus,
    status: answered.length > 0 ? 'completed' : 'failed',
    errorType: answered.length > 0 ? null : 'InsufficientResponses',
    errorMessage: answered.length > 0 ? null : 'every provider failed (generated)',
    routingPolicyVersion: 1,
    routingRule: null,
    thresholdMet: consensus ? dissenting.length === 0 : null,
    ...(consensus && { dissenting }),
    providersUsed: answered.map((c) => c.provider),
    tokensIn: 40 * answered.length,
    tokensOut: 60 * answered.length,
    costUsd: answered.reduce((s, c) => s + c.costUsd, 0),
    processingTimeMs,
    startedAt: new Date(at - processingTimeMs).toISOString(),
    completedAt: new Date(at).toISOString(),
    providerCalls: calls.map(({ agrees: _agrees, ...c }) => c),
  };
}

// ---------------------------------------------------------------------------------------------

interface Bench {
  runtime: WorkerRuntime;
  temporal: Client;
  taskQueue: string;
  client: OrchestratorClient;
  /** Reports, proposals and experiments (the same database as the worker's). */
  store: ImprovementStoreHandle;
  liveRoutingId: string;
  rowsWritten: number;
  writeMs: number;
  runs: number;
  runMs: number;
}

async function write(b: Bench, rows: readonly InteractionRecord[]): Promise<void> {
  const started = performance.now();
  for (const r of rows) await b.runtime.memory.persistInteraction(r);
  b.writeMs += performance.now() - started;
  b.rowsWritten += rows.length;
}

/** One scheduled run over the interval ending at `windowEnd` (ms). */
async function scheduledRun(b: Bench, routingId: string, windowEnd: number, label: string): Promise<ImprovementWorkflowResult> {
  const started = performance.now();
  const result = await b.temporal.workflow.execute<typeof improvementWorkflow>(IMPROVEMENT_WORKFLOW_TYPE, {
    workflowId: `improvement-bench-${stamp}-${label}`,
    taskQueue: b.taskQueue,
    args: [{ trigger: 'schedule', routingPolicyWorkflowId: routingId, overrides: { windowHours: 1, windowEnd: new Date(windowEnd).toISOString() } }],
  });
  b.runMs += performance.now() - started;
  b.runs += 1;
  return result;
}

async function planningWith(runtime: WorkerRuntime, version: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (runtime.policyCache.current().version !== version) {
    if (Date.now() > deadline) throw new Error(`the worker still plans with v${runtime.policyCache.current().version}, not v${version}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// (a) detection

interface Scenario {
  key: string;
  description: string;
  metric: 'error_rate' | 'latency';
  degraded: Profile[];
  /** Checked against the target (the others are a sweep, reported). */
  primary: boolean;
  /** Default ONSET_OFFSET. */
  onsetOffset?: number;
}

interface Detection {
  key: string;
  replicate: number;
  description: string;
  primary: boolean;
  detected: boolean;
  /** Scheduled runs after the onset until the one that applied the demotion (null: not within the runs made). */
  runsAfterOnset: number | null;
  requestsAfterOnset: number | null;
  /** Proposed but left pending (thresholds) by some run. */
  pendingProposals: number;
  appliedVersion: number | null;
  confidence: number | null;
  warmupFalseAlarms: number;
}

async function detect(b: Bench, s: Scenario, replicate: number, index: number, routingId: string): Promise<Detection> {
  const start = EPOCH + index * WEEK_MS;
  const random = seededRandom(`detect-${s.key}-${replicate}`);
  const onset = 2 * INTERVAL + (s.onsetOffset ?? ONSET_OFFSET);
  const rows = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, k) => {
      const n = from + k;
      return consensusRequest(`bench-imp-${s.key}-${replicate}-${n}`, n, start + (n + 0.5) * SPACING_MS, n >= onset ? s.degraded : HEALTHY, random);
    });
  const out: Detection = { key: s.key, replicate, description: s.description, primary: s.primary, detected: false, runsAfterOnset: null, requestsAfterOnset: null, pendingProposals: 0, appliedVersion: null, confidence: null, warmupFalseAlarms: 0 };

  const label = `${s.key}-${replicate}`;
  const name = `${s.description}${s.primary ? ` #${replicate}` : ''}`;
  await write(b, rows(0, 2 * INTERVAL));
  const warm = await scheduledRun(b, routingId, start + 2 * HOUR_MS, `${label}-run2`);
  out.warmupFalseAlarms = warm.applied;
  for (let k = 3; k < 3 + MAX_RUNS_AFTER_ONSET; k++) {
    await write(b, rows((k - 1) * INTERVAL, k * INTERVAL));
    const r = await scheduledRun(b, routingId, start + k * HOUR_MS, `${label}-run${k}`);
    const demote = r.proposals.find((p) => p.kind === 'demote' && p.summary.startsWith(`demote ${DEGRADED_TARGET}`));
    const runsAfterOnset = k - 2;
    if (demote?.status === 'applied') {
      const stored = await b.store.getProposal(demote.id);
      Object.assign(out, { detected: true, runsAfterOnset, requestsAfterOnset: k * INTERVAL - onset, appliedVersion: demote.appliedVersion, confidence: stored.confidence });
      console.log(`  ${name.padEnd(48)} demoted by run ${runsAfterOnset} after the onset, ${k * INTERVAL - onset} requests after it (confidence ${stored.confidence.toFixed(6)}, ${stored.dataPoints} data points, routing policy v${demote.appliedVersion})`);
      return out;
    }
    if (demote) out.pendingProposals += 1;
  }
  console.log(`  ${name.padEnd(48)} NOT demoted within ${MAX_RUNS_AFTER_ONSET} runs after the onset${out.pendingProposals > 0 ? ` (proposed but pending ${out.pendingProposals} times)` : ''}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// (b) experiment

interface ExperimentFigures {
  replicate: number;
  experimentId: string;
  minSamplesPerArm: number;
  /** 'conclude' / 'stop', or 'continue' when it had not ended within the runs made (then stopped by the bench). */
  action: string;
  winner: string | null;
  reason: string | null;
  requestsUntilEnded: number | null;
  proposalStatus: string | null;
  appliedVersion: number | null;
  /** The better variant's share of the task type's traffic while the experiment ran, and after it ended. */
  betterShareDuring: number;
  betterShareAfter: number | null;
  goodRateDuring: number;
  goodRateAfter: number | null;
  realRequestsAfter: { sent: number; onBetterRoute: number } | null;
  /** The winner's good rate seen when the experiment stopped, and the proposal's estimated effect (shrunk, with its 95% interval). */
  observedGoodRate: number | null;
  estimatedGoodRate: number | null;
  estimatedInterval: [number, number] | null;
}

const TRANSLATION_RULE: RoutingRule = { id: 'translation-route', task_type: 'translation', complexity: 'any', providers: ['openai:gpt-4o'], require_consensus: false, fallback: [] };
const BETTER = 'google:gemini-2.0-flash';
const GOOD_RATE: Record<string, number> = { 'openai:gpt-4o': 0.8, [BETTER]: 0.9 };
const EXPERIMENT_TRAFFIC_SHARE = 0.5;
const EXPERIMENT_REPLICATES = Number(process.env['BENCH_IMPROVEMENT_EXPERIMENTS'] ?? 5);
/** Intervals of translation traffic after an experiment ended, to measure the share the better variant kept. */
const AFTER_INTERVALS = 2;

function translationRequest(id: string, at: number, selector: string, experiment: { id: string; variant: string } | null, random: Random): InteractionRecord {
  const [provider, model] = selector.split(':') as [string, string];
  const failed = random() < 0.02;
  const good = !failed && random() < GOOD_RATE[selector]! / 0.98;
  const latencyMs = Math.round(700 * Math.exp(0.25 * normal(random)));
  const costUsd = provider === 'google' ? 0.0001 : 0.0008;
  return {
    workflowId: `llm-request-${id}`,
    requestId: id,
    userId: 'bench',
    taskType: 'translation',
    complexity: 'simple',
    complexityScore: 0.2,
    prompt: `generated translation ${id}`,
    systemPrompt: null,
    response: failed ? null : `translation ${id}`,
    confidence: null,
    agreement: null,
    consensusStrategy: 'similarity',
    consensusApplied: false,
    status: failed ? 'failed' : 'completed',
    errorType: failed ? 'InsufficientResponses' : null,
    errorMessage: failed ? 'the provider failed (generated)' : null,
    routingPolicyVersion: 1,
    routingRule: 'translation-route',
    // The quality verdict on the answer (what consensus or a user's feedback would say).
    thresholdMet: failed ? null : good,
    experimentId: experiment?.id ?? null,
    variant: experiment?.variant ?? null,
    providersUsed: failed ? [] : [provider],
    tokensIn: failed ? 0 : 40,
    tokensOut: failed ? 0 : 60,
    costUsd: failed ? 0 : costUsd,
    processingTimeMs: latencyMs + 30,
    startedAt: new Date(at - latencyMs - 30).toISOString(),
    completedAt: new Date(at).toISOString(),
    providerCalls: [
      failed
        ? { callIndex: 0, provider, model, attempts: 3, status: 'failed', hedged: false, errorType: 'ProviderServerError', errorMessage: 'HTTP 500 (generated)', latencyMs: null, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null }
        : { callIndex: 0, provider, model, attempts: 1, status: 'succeeded', hedged: false, errorType: null, errorMessage: null, latencyMs, tokensIn: 40, tokensOut: 60, costUsd, finishReason: 'stop', providerRequestId: null },
    ],
  };
}

/**
 * One experiment, from creation until it ended and AFTER_INTERVALS more: every interval's
 * translation traffic is assigned with assignRequest while it runs, and routed by the
 * routing-policy workflow's current rule otherwise.
 */
async function experimentScenario(b: Bench, index: number, replicate: number, routingId: string): Promise<ExperimentFigures> {
  const start = EPOCH + index * WEEK_MS;
  const random = seededRandom(`experiment-${replicate}`);
  const minSamples = minSampleSizePerArm({ baseline: GOOD_RATE['openai:gpt-4o']!, minDetectableEffect: 0.1 });
  const experiment = await b.store.createExperiment({
    id: `bench-translation-${replicate}`,
    name: 'translation on gemini-2.0-flash instead of gpt-4o',
    kind: 'routing_policy',
    taskType: 'translation',
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'gemini', share: 0.5, config: { update: { kind: 'set_rule', rule: { id: 'translation-route', task_type: 'translation', providers: [BETTER] } } } },
    ],
    trafficShare: EXPERIMENT_TRAFFIC_SHARE,
    minSamples,
    createdBy: 'bench:improvement',
  });
  const routing = b.temporal.workflow.getHandle(routingId);
  const fig: ExperimentFigures = {
    replicate,
    experimentId: experiment.id,
    minSamplesPerArm: minSamples,
    action: 'continue',
    winner: null,
    reason: null,
    requestsUntilEnded: null,
    proposalStatus: null,
    appliedVersion: null,
    betterShareDuring: 0,
    betterShareAfter: null,
    goodRateDuring: 0,
    goodRateAfter: null,
    realRequestsAfter: null,
    observedGoodRate: null,
    estimatedGoodRate: null,
    estimatedInterval: null,
  };
  let running = true;
  const during = { n: 0, better: 0, good: 0 };
  const after = { n: 0, better: 0, good: 0 };
  let afterIntervals = 0;
  for (let k = 1; k <= MAX_EXPERIMENT_INTERVALS + AFTER_INTERVALS && afterIntervals < AFTER_INTERVALS; k++) {
    if (running && k > MAX_EXPERIMENT_INTERVALS) break;
    const base = running ? 'openai:gpt-4o' : await routing.query(currentPolicyQuery).then((p) => p.rules.find((r) => r.id === 'translation-route')?.providers[0] ?? 'openai:gpt-4o');
    const baseSelector = base === 'google' ? BETTER : base;
    const rows: InteractionRecord[] = [];
    for (let i = 0; i < INTERVAL; i++) {
      const n = (k - 1) * INTERVAL + i;
      const id = `bench-imp-translate-${replicate}-${n}`;
      const assigned = running ? assignRequest([experiment], { requestId: id, taskType: 'translation' }) : null;
      const selector = assigned?.variant === 'gemini' ? BETTER : baseSelector;
      const row = translationRequest(id, start + (n + 0.5) * SPACING_MS, selector, assigned ? { id: assigned.experimentId, variant: assigned.variant } : null, random);
      rows.push(row);
      const tally = running ? during : after;
      tally.n += 1;
      if (selector === BETTER) tally.better += 1;
      if (row.status === 'completed' && row.thresholdMet !== false) tally.good += 1;
    }
    if (!running) afterIntervals += 1;
    await write(b, rows);
    const r = await scheduledRun(b, routingId, start + k * HOUR_MS, `experiment-${replicate}-${k}`);
    const e = r.experiments.find((x) => x.experimentId === experiment.id);
    if (running && e && e.action !== 'continue') {
      running = false;
      const proposal = r.proposals.find((p) => p.summary.includes(experiment.id)) ?? null;
      const stored = await b.store.getExperiment(experiment.id);
      Object.assign(fig, { action: e.action, winner: e.winner, reason: stored.reason, requestsUntilEnded: k * INTERVAL, proposalStatus: proposal?.status ?? null, appliedVersion: proposal?.appliedVersion ?? null });
      if (proposal) {
        const p = await b.store.getProposal(proposal.id);
        const num = (x: unknown) => (typeof x === 'number' ? x : null);
        const low = num(p.evidence.figures['estimatedGoodRateLow95']);
        const high = num(p.evidence.figures['estimatedGoodRateHigh95']);
        Object.assign(fig, { observedGoodRate: num(p.evidence.figures['goodRate']), estimatedGoodRate: p.estimatedEffect.expected, estimatedInterval: low !== null && high !== null ? [low, high] : null });
      }
    }
  }
  if (running) {
    await b.store.stopExperiment(experiment.id, { by: 'bench:improvement', reason: `no decision within ${MAX_EXPERIMENT_INTERVALS} runs` });
    fig.reason = `no decision within ${MAX_EXPERIMENT_INTERVALS} runs (${MAX_EXPERIMENT_INTERVALS * INTERVAL} requests): stopped by the bench`;
  }
  fig.betterShareDuring = during.n > 0 ? during.better / during.n : 0;
  fig.goodRateDuring = during.n > 0 ? during.good / during.n : 0;
  if (after.n > 0) {
    fig.betterShareAfter = after.better / after.n;
    fig.goodRateAfter = after.good / after.n;
  }
  if (fig.appliedVersion !== null && routingId === b.liveRoutingId) {
    // Real requests through the worker, planned under the routing policy the winner changed.
    await planningWith(b.runtime, fig.appliedVersion);
    await b.runtime.experiments.refresh();
    let onBetter = 0;
    for (let i = 0; i < REAL_REQUESTS; i++) {
      const res = await b.client.processRequest({ prompt: `Translate "see you tomorrow" into language ${i}.`, taskType: 'translation', userId: 'bench', complexityOverride: 'simple', requestId: `bench-imp-${stamp}-real-translate-${i}` });
      if (`${res.metadata.providers[0]?.provider}:${res.metadata.providers[0]?.model}` === BETTER) onBetter += 1;
    }
    fig.realRequestsAfter = { sent: REAL_REQUESTS, onBetterRoute: onBetter };
  }
  const pctOf = (x: number | null) => (x === null ? '-' : `${round(x * 100)}%`);
  console.log(
    `  #${replicate}: ${fig.action}${fig.winner ? `, winner "${fig.winner}"` : ', no winner'} after ${fig.requestsUntilEnded ?? '-'} requests` +
      `${fig.proposalStatus ? ` (rule ${fig.proposalStatus}${fig.appliedVersion !== null ? ` as v${fig.appliedVersion}` : ''})` : ''}; better variant's share ${pctOf(fig.betterShareDuring)} during, ${pctOf(fig.betterShareAfter)} after; good ${pctOf(fig.goodRateDuring)} -> ${pctOf(fig.goodRateAfter)}` +
      `${fig.realRequestsAfter ? `; real requests after: ${fig.realRequestsAfter.onBetterRoute}/${fig.realRequestsAfter.sent} on gemini` : ''}`,
  );
  if (fig.reason) console.log(`      ${fig.reason}`);
  if (fig.estimatedGoodRate !== null) {
    console.log(
      `      winner's good rate: ${pctOf(fig.observedGoodRate)} seen at the stop, estimated ${pctOf(fig.estimatedGoodRate)}${fig.estimatedInterval ? ` (95% interval ${pctOf(fig.estimatedInterval[0])} to ${pctOf(fig.estimatedInterval[1])})` : ''}; true ${pctOf(GOOD_RATE[BETTER]!)}`,
    );
  }
  return fig;
}

// ---------------------------------------------------------------------------------------------
// (c) false alarms

interface Quiet {
  runs: number;
  runsWithChangeApplied: number;
  changesApplied: number;
  runsWithProposals: number;
  proposalsByKind: Record<string, number>;
}

async function quietScenario(b: Bench, index: number, routingId: string): Promise<Quiet> {
  const start = EPOCH + index * WEEK_MS;
  const random = seededRandom('quiet');
  const rows = (k: number) =>
    Array.from({ length: INTERVAL }, (_, i) => {
      const n = (k - 1) * INTERVAL + i;
      return consensusRequest(`bench-imp-quiet-${n}`, n, start + (n + 0.5) * SPACING_MS, HEALTHY, random);
    });
  const out: Quiet = { runs: 0, runsWithChangeApplied: 0, changesApplied: 0, runsWithProposals: 0, proposalsByKind: {} };
  await write(b, rows(1));
  for (let k = 2; k <= QUIET_RUNS + 1; k++) {
    await write(b, rows(k));
    const r = await scheduledRun(b, routingId, start + k * HOUR_MS, `quiet-${k}`);
    out.runs += 1;
    if (r.applied > 0) out.runsWithChangeApplied += 1;
    out.changesApplied += r.applied;
    if (r.proposals.length > 0) out.runsWithProposals += 1;
    for (const p of r.proposals) out.proposalsByKind[p.kind] = (out.proposalsByKind[p.kind] ?? 0) + 1;
    if (r.applied > 0) console.log(`  run ${k - 1}: applied ${r.proposals.filter((p) => p.status === 'applied').map((p) => p.summary).join('; ')}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const base = loadConfig(loadEnv().CONFIG_PATH);
  const config: Config = {
    ...base,
    emulator: { ...base.emulator, mode: 'always', latency_ms: 5 },
    routing: { ...base.routing, rules: [...base.routing.rules.filter((r) => r.task_type !== 'translation'), TRANSLATION_RULE] },
  };
  const dir = mkdtempSync(join(tmpdir(), 'bench-improvement-'));
  const databaseUrl = `file:${join(dir, 'bench.db')}`;
  const env = loadEnv({ ...process.env, DATABASE_URL: databaseUrl, EMULATOR_URL: '' });
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, dataConverter: dataConverterFor(env) });
  const liveRoutingId = `routing-policy-bench-improvement-${stamp}`;
  const runtime = await createWorkerRuntime({ config, env, logger: createLogger('error', 'bench'), secrets: {}, emulatorPort: 0, temporalClient: temporal, routingPolicyWorkflowId: liveRoutingId, policyRefreshMs: 200 });
  const taskQueue = `bench-improvement-${stamp}`;
  const native = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('ERROR') }),
    dataConverter: dataConverterFor(env),
    activities: runtime.activities,
    maxHeartbeatThrottleInterval: '1s',
  });
  const b: Bench = { runtime, temporal, taskQueue, client: new OrchestratorClient({ client: temporal, config, env, taskQueue }), store: openImprovementStore(databaseUrl), liveRoutingId, rowsWritten: 0, writeMs: 0, runs: 0, runMs: 0 };
  const i = config.improvement;

  console.log('bench:improvement: the improvement loop on generated traffic');
  console.log(`  real: the improvement workflow and its activities on the dev server, the routing-policy workflow (applyRoutingUpdate signals), request workflows after each change`);
  console.log(`  simulated: the history (requests and provider calls written with persistInteraction), ${INTERVAL} requests per scheduled interval (one simulated hour), consensus over 3 providers`);
  console.log(`  settings (config.yaml): min_data_points ${i.min_data_points}, auto_apply_threshold ${i.auto_apply_threshold}, anomaly_alpha ${i.anomaly_alpha}, min_error_rate_increase ${i.min_error_rate_increase}, min_latency_ratio ${i.min_latency_ratio}, min_calls_per_test ${i.min_calls_per_test}; window: one interval\n`);

  const scenarios: Scenario[] = [
    { key: 'error-20', description: 'openai error rate 2% -> 20%', metric: 'error_rate', degraded: withOpenai({ errorRate: 0.2 }), primary: true },
    { key: 'latency-2x', description: 'openai median latency 800 -> 1600 ms', metric: 'latency', degraded: withOpenai({ latencyMs: 1600 }), primary: true },
    { key: 'error-10', description: 'openai error rate 2% -> 10% (sweep)', metric: 'error_rate', degraded: withOpenai({ errorRate: 0.1 }), primary: false },
    { key: 'error-50', description: 'openai error rate 2% -> 50% (sweep)', metric: 'error_rate', degraded: withOpenai({ errorRate: 0.5 }), primary: false },
    { key: 'latency-1.5x', description: 'openai median latency 800 -> 1200 ms (sweep)', metric: 'latency', degraded: withOpenai({ latencyMs: 1200 }), primary: false },
    { key: 'latency-3x', description: 'openai median latency 800 -> 2400 ms (sweep)', metric: 'latency', degraded: withOpenai({ latencyMs: 2400 }), primary: false },
    { key: 'error-10-aligned', description: 'openai error 2% -> 10%, onset at a run (sweep)', metric: 'error_rate', degraded: withOpenai({ errorRate: 0.1 }), primary: false, onsetOffset: 0 },
    { key: 'latency-1.5x-aligned', description: 'openai latency 1.5x, onset at a run (sweep)', metric: 'latency', degraded: withOpenai({ latencyMs: 1200 }), primary: false, onsetOffset: 0 },
  ];

  const figures = await worker.runUntil(async () => {
    let epochs = 0;
    console.log(
      `(a) detection: a degradation starts ${ONSET_OFFSET} requests into an interval (unless said otherwise); runs every ${INTERVAL} requests; ${DETECTION_REPLICATES} seeds per primary scenario, one per sweep scenario (target: demoted by run ${TARGET_RUNS} after the onset)`,
    );
    const detections: Detection[] = [];
    for (const s of scenarios) {
      for (let r = 1; r <= (s.primary ? DETECTION_REPLICATES : 1); r++) {
        // The first run's routing-policy workflow is the one the worker plans with.
        const routingId = detections.length === 0 ? liveRoutingId : `routing-policy-bench-improvement-${stamp}-${s.key}-${r}`;
        detections.push(await detect(b, s, r, epochs++, routingId));
      }
    }
    const first = detections[0]!;
    let realAfterDemotion: { sent: number; startedWithDemoted: number; policyVersion: number } | null = null;
    if (first.appliedVersion !== null) {
      await planningWith(runtime, first.appliedVersion);
      let startedWithDemoted = 0;
      for (let k = 0; k < REAL_REQUESTS; k++) {
        const res = await b.client.processRequest({ prompt: `Name a moon of Saturn (${k}).`, taskType: 'question_answering', userId: 'bench', complexityOverride: 'simple', requestId: `bench-imp-${stamp}-real-qa-${k}` });
        if (`${res.metadata.providers[0]?.provider}:${res.metadata.providers[0]?.model}` === DEGRADED_TARGET) startedWithDemoted += 1;
      }
      realAfterDemotion = { sent: REAL_REQUESTS, startedWithDemoted, policyVersion: first.appliedVersion };
      console.log(`  real request workflows after the demotion (default route): ${startedWithDemoted}/${REAL_REQUESTS} started with ${DEGRADED_TARGET} (worker on routing policy v${first.appliedVersion})`);
    }

    const planned = minSampleSizePerArm({ baseline: GOOD_RATE['openai:gpt-4o']!, minDetectableEffect: 0.1 });
    console.log(
      `\n(b) experiment, ${EXPERIMENT_REPLICATES} replicates: translation, control gpt-4o (80% good) vs variant gemini-2.0-flash (90% good); ${EXPERIMENT_TRAFFIC_SHARE * 100}% of the traffic in the experiment, ` +
        `planned ${planned} samples per arm (baseline 0.8, effect 0.1, alpha ${i.experiments.alpha}, power 0.8)`,
    );
    const experiments: ExperimentFigures[] = [];
    for (let r = 1; r <= EXPERIMENT_REPLICATES; r++) {
      // The first replicate's routing-policy workflow is the one the worker plans with.
      experiments.push(await experimentScenario(b, epochs++, r, r === 1 ? liveRoutingId : `routing-policy-bench-improvement-${stamp}-experiment-${r}`));
    }

    console.log(`\n(c) false alarms: ${QUIET_RUNS} scheduled runs over identical providers (target: ${TARGET_FALSE_ALARMS} changes applied)`);
    const quiet = await quietScenario(b, epochs++, `routing-policy-bench-improvement-${stamp}-quiet`);
    console.log(`  runs that applied a change: ${quiet.runsWithChangeApplied}/${quiet.runs}; runs with any proposal: ${quiet.runsWithProposals}/${quiet.runs} ${JSON.stringify(quiet.proposalsByKind)}`);
    return { detections, realAfterDemotion, experiments, quiet };
  });

  await b.store.close();
  await runtime.close();
  await native.close();
  await connection.close();
  rmSync(dir, { recursive: true, force: true });

  const { detections, realAfterDemotion, experiments, quiet } = figures;
  const won = experiments.filter((e) => e.winner === 'gemini' && e.proposalStatus === 'applied');
  const mean = (xs: readonly number[]) => (xs.length > 0 ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  const shareDuring = mean(experiments.map((e) => e.betterShareDuring));
  const shareAfter = mean(experiments.map((e) => e.betterShareAfter ?? 0));
  const ended = experiments.map((e) => e.requestsUntilEnded).filter((x): x is number => x !== null);
  const estimated = experiments.filter((e) => e.estimatedGoodRate !== null && e.observedGoodRate !== null);
  const observedMean = mean(estimated.map((e) => e.observedGoodRate!));
  const estimatedMean = mean(estimated.map((e) => e.estimatedGoodRate!));
  const covered = estimated.filter((e) => e.estimatedInterval !== null && e.estimatedInterval[0] <= GOOD_RATE[BETTER]! && GOOD_RATE[BETTER]! <= e.estimatedInterval[1]).length;
  const withinTarget = (d: Detection) => d.detected && d.runsAfterOnset !== null && d.runsAfterOnset <= TARGET_RUNS;
  const byScenario = scenarios.map((s) => {
    const ds = detections.filter((d) => d.key === s.key);
    const runs = ds.map((d) => d.runsAfterOnset);
    const requests = ds.map((d) => d.requestsAfterOnset);
    return { s, ds, runs, requests, detected: ds.filter((d) => d.detected).length, met: ds.every(withinTarget), worstRuns: runs.some((x) => x === null) ? null : Math.max(...(runs as number[])), worstRequests: requests.some((x) => x === null) ? null : Math.max(...(requests as number[])) };
  });
  const primary = byScenario.filter((x) => x.s.primary);
  const falseAlarmsMet = quiet.changesApplied <= TARGET_FALSE_ALARMS && detections.every((d) => d.warmupFalseAlarms === 0);
  console.log(`\nhistory written: ${b.rowsWritten} generated requests (${round((b.rowsWritten / b.writeMs) * 1000)} rows/s); ${b.runs} improvement runs, mean ${round(b.runMs / b.runs)} ms each`);
  console.log(
    `experiment: the better variant won and its rule was applied in ${won.length}/${experiments.length} replicates; its share of the task type's traffic ${shareDuring === null ? '-' : `${round(shareDuring * 100)}%`} during the experiment -> ${shareAfter === null ? '-' : `${round(shareAfter * 100)}%`} after (mean; no target in the issue)`,
  );
  console.log('Targets:');
  for (const x of primary) {
    console.log(`  ${x.s.description}: demoted in ${x.detected}/${x.ds.length} seeds, worst by run ${x.worstRuns ?? 'never (within the runs made)'} after the onset (${x.worstRequests ?? '-'} requests) <= ${TARGET_RUNS}: ${x.met ? 'MET' : 'MISSED'}`);
  }
  console.log(`  false alarms: ${quiet.changesApplied} changes applied in ${quiet.runs} runs over identical providers (and ${detections.reduce((s, d) => s + d.warmupFalseAlarms, 0)} in the healthy warm-up runs) <= ${TARGET_FALSE_ALARMS}: ${falseAlarmsMet ? 'MET' : 'MISSED'}`);
  console.log(
    JSON.stringify({
      bench: 'improvement',
      simulated: 'history rows (persistInteraction, generated, 200 requests per scheduled interval); real: improvement workflow + activities, routing-policy workflow signals, request workflows after changes',
      interval_requests: INTERVAL,
      onset_offset_requests: ONSET_OFFSET,
      detection: byScenario.map((x) => ({
        scenario: x.s.key,
        primary: x.s.primary,
        onset_offset: x.s.onsetOffset ?? ONSET_OFFSET,
        seeds: x.ds.length,
        demoted: x.detected,
        runs_after_onset: x.runs,
        requests_after_onset: x.requests,
        pending_proposals: x.ds.reduce((n, d) => n + d.pendingProposals, 0),
      })),
      real_requests_after_demotion: realAfterDemotion && { sent: realAfterDemotion.sent, started_with_demoted: realAfterDemotion.startedWithDemoted },
      experiment: {
        replicates: experiments.length,
        planned_samples_per_arm: experiments[0]?.minSamplesPerArm ?? null,
        traffic_share: EXPERIMENT_TRAFFIC_SHARE,
        better_variant_won_and_applied: won.length,
        no_winner: experiments.filter((e) => e.action === 'conclude' && e.winner === null).length,
        wrong_winner_or_stopped: experiments.filter((e) => (e.winner !== null && e.winner !== 'gemini') || e.action === 'stop').length,
        not_ended: experiments.filter((e) => e.requestsUntilEnded === null).length,
        requests_until_ended_median: ended.length > 0 ? [...ended].sort((x, y) => x - y)[Math.floor((ended.length - 1) / 2)] : null,
        better_share_during_mean: shareDuring === null ? null : round(shareDuring, 3),
        better_share_after_mean: shareAfter === null ? null : round(shareAfter, 3),
        traffic_gained_mean: shareDuring === null || shareAfter === null ? null : round(shareAfter - shareDuring, 3),
        winner_good_rate: { true: GOOD_RATE[BETTER], observed_at_stop_mean: observedMean === null ? null : round(observedMean, 4), estimated_mean: estimatedMean === null ? null : round(estimatedMean, 4), interval_covers_true: `${covered}/${estimated.length}` },
        real_requests_after: experiments[0]?.realRequestsAfter ? { sent: experiments[0].realRequestsAfter.sent, on_better_route: experiments[0].realRequestsAfter.onBetterRoute } : null,
        per_replicate: experiments.map((e) => ({
          action: e.action,
          winner: e.winner,
          requests_until_ended: e.requestsUntilEnded,
          applied: e.proposalStatus === 'applied',
          better_share_during: round(e.betterShareDuring, 3),
          better_share_after: e.betterShareAfter === null ? null : round(e.betterShareAfter, 3),
          observed_good_rate: e.observedGoodRate === null ? null : round(e.observedGoodRate, 4),
          estimated_good_rate: e.estimatedGoodRate === null ? null : round(e.estimatedGoodRate, 4),
        })),
      },
      false_alarms: { runs: quiet.runs, changes_applied: quiet.changesApplied, runs_with_proposals: quiet.runsWithProposals, proposals_by_kind: quiet.proposalsByKind, warmup_changes_applied: detections.reduce((s, d) => s + d.warmupFalseAlarms, 0) },
      targets: {
        ...Object.fromEntries(primary.map((x) => [`detection_${x.s.key}`, { target: `demoted within ${TARGET_RUNS} scheduled runs of ${INTERVAL} requests, every seed`, seeds: x.ds.length, worst_runs: x.worstRuns, worst_requests: x.worstRequests, met: x.met }])),
        false_alarms: { target: TARGET_FALSE_ALARMS, value: quiet.changesApplied + detections.reduce((s, d) => s + d.warmupFalseAlarms, 0), runs: quiet.runs, met: falseAlarmsMet },
      },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
