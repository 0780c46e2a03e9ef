/**
 * Real traffic for the improvement loop, through a test stack (stack.ts): the settings that make
 * an improvement run meaningful at test volume, requests sent concurrently, a provider that
 * degrades halfway, and experiment traffic whose outcome per variant is known in advance.
 * Used by test/integration/improvement-loop.test.ts and scripts/record-improvement-loop-history.ts.
 */
import type { Config, RoutingRule } from '../../src/config/schema';
import { assignVariant } from '../../src/improvement/assignment';
import type { Experiment, ExperimentInput } from '../../src/improvement/experiments';
import type { OrchestrateRequest, OrchestrationResult } from '../../src/types';
import type { TestStack } from './stack';

/** The model that degrades. */
export const DEGRADED = 'openai:gpt-4o-mini';
export const HEALTHY_REQUESTS = 40;
export const DEGRADED_REQUESTS = 40;
/** Share of gpt-4o-mini calls that fail (HTTP 500) once it degrades. */
export const DEGRADED_FAULT_RATE = 0.6;
const CONCURRENCY = 6;

/** Translation requests go to gpt-4o only, with no fallback: when it fails, the request fails. */
export const TRANSLATION_RULE: RoutingRule = { id: 'translation-route', task_type: 'translation', complexity: 'any', providers: ['openai:gpt-4o'], require_consensus: false, fallback: [] };

/**
 * The stack's configuration for improvement runs on a few dozen requests: circuit breakers off
 * (an open circuit would skip the failing model and hide its failures), one attempt per call (a
 * failure is a failure), min_calls_per_test 20, the translation rule, and `improvement` overrides.
 */
export function improvementConfig(improvement: Partial<Config['improvement']>) {
  return (c: Config): Config => ({
    ...c,
    routing: { ...c.routing, rules: [...c.routing.rules.filter((r) => r.id !== TRANSLATION_RULE.id), TRANSLATION_RULE] },
    resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false } },
    performance: { ...c.performance, models: Object.fromEntries(Object.entries(c.performance.models).map(([p, m]) => [p, { ...m, max_attempts: 1 }])) },
    improvement: { ...c.improvement, min_calls_per_test: 20, ...improvement },
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Outcome {
  requestId: string;
  result: OrchestrationResult | null;
  error: string | null;
}

/** Send the requests, a few at a time; failures are outcomes, not exceptions. */
export async function send(stack: TestStack, requests: readonly OrchestrateRequest[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array<Outcome>(requests.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, requests.length) }, async () => {
      while (next < requests.length) {
        const i = next++;
        const request = requests[i]!;
        try {
          out[i] = { requestId: request.requestId!, result: await stack.client.processRequest(request), error: null };
        } catch (err) {
          out[i] = { requestId: request.requestId!, result: null, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
        }
      }
    }),
  );
  return out;
}

/** The results, or an error naming the first failure. */
export function results(outcomes: readonly Outcome[]): OrchestrationResult[] {
  const failed = outcomes.filter((o) => o.result === null);
  if (failed.length > 0) throw new Error(`${failed.length} request(s) failed, e.g. ${failed[0]!.error}`);
  return outcomes.map((o) => o.result!);
}

/** Question-answering requests that name the three providers: openai is called, the others are its failover chain. */
export function failoverRequests(prefix: string, label: string, n: number): OrchestrateRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    prompt: `Name a planet of the solar system (${label} ${i}).`,
    taskType: 'question_answering',
    userId: 'user-improvement',
    providers: ['openai', 'anthropic', 'google'],
    minProviders: 1,
    requireConsensus: false,
    complexityOverride: 'simple' as const,
    requestId: `${prefix}-${label}-${i}`,
  }));
}

/** A request on the default route (no providers named). */
export function defaultRouteRequest(prefix: string, label: string, i: number): OrchestrateRequest {
  return { prompt: `Name a moon of Jupiter (${label} ${i}).`, taskType: 'question_answering', userId: 'user-improvement', complexityOverride: 'simple', requestId: `${prefix}-${label}-${i}` };
}

export interface DegradedHistory {
  /** The window holding the degraded stretch; the window before it, of the same length, holds the healthy one. */
  windowEnd: string;
  windowHours: number;
  healthy: OrchestrationResult[];
  degraded: OrchestrationResult[];
}

/** A healthy stretch, then gpt-4o-mini fails DEGRADED_FAULT_RATE of its calls (HTTP 500): the history an improvement run compares. */
export async function degradeHistory(stack: TestStack, prefix: string, label: string): Promise<DegradedHistory> {
  const t0 = Date.now();
  const healthy = results(await send(stack, failoverRequests(prefix, `${label}-healthy`, HEALTHY_REQUESTS)));
  await sleep(50);
  const split = Date.now();
  await sleep(50);
  stack.runtime.emulator!.setModelSettings('gpt-4o-mini', { faults: [{ kind: 500, rate: DEGRADED_FAULT_RATE }] });
  const degraded = results(await send(stack, failoverRequests(prefix, `${label}-degraded`, DEGRADED_REQUESTS)));
  const span = Math.max(split - t0, Date.now() - split) + 2_000;
  return { windowEnd: new Date(split + span).toISOString(), windowHours: span / 3_600_000, healthy, degraded };
}

/** Wait until the worker plans with `version`. */
export async function planningWith(stack: TestStack, version: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (stack.runtime.policyCache.current().version !== version) {
    if (Date.now() > deadline) throw new Error(`the worker still plans with v${stack.runtime.policyCache.current().version}, not v${version}`);
    await sleep(50);
  }
}

export function firstProvider(r: OrchestrationResult): string {
  return r.metadata.providers[0]!.provider;
}

// ---------------------------------------------------------------------------------------------
// Experiments on live traffic

/** Requests per variant of each experiment. */
export const PER_ARM = 24;

/** Translation on gemini instead of gpt-4o: the variant avoids a model that fails 3 in 5 of these requests. */
export function betterRoutingExperiment(id: string): ExperimentInput {
  return {
    id,
    name: 'translation on gemini instead of gpt-4o',
    kind: 'routing_policy',
    taskType: 'translation',
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'google-route', share: 0.5, config: { update: { kind: 'set_rule', rule: { id: TRANSLATION_RULE.id, task_type: 'translation', providers: ['google'] } } } },
    ],
    trafficShare: 1,
    minSamples: 20,
    createdBy: 'test:improvement-loop',
  };
}

/** Two identical prompt variants. */
export function equalPromptExperiment(id: string): ExperimentInput {
  return {
    id,
    name: 'the same prompt twice',
    kind: 'prompt_template',
    taskType: 'summarization',
    variants: [
      { name: 'a', share: 0.5, config: { systemPrompt: null } },
      { name: 'b', share: 0.5, config: { systemPrompt: null } },
    ],
    trafficShare: 1,
    minSamples: 20,
    createdBy: 'test:improvement-loop',
  };
}

/** Request ids until every variant has PER_ARM of them (assignment is a hash of the request id). */
function idsPerArm(e: Experiment, prefix: string): Map<string, string[]> {
  const arms = new Map<string, string[]>(e.variants.map((v) => [v.name, []]));
  for (let i = 0; [...arms.values()].some((ids) => ids.length < PER_ARM); i++) {
    const requestId = `${prefix}-${i}`;
    const ids = arms.get(assignVariant(e, requestId)!)!;
    if (ids.length < PER_ARM) ids.push(requestId);
  }
  return arms;
}

/** Whether a request carries a fault directive for the emulator. */
export function faulted(q: OrchestrateRequest): boolean {
  return (q.prompt ?? '').includes('[[emulate');
}

/** gpt-4o fails 3 in 5 translation requests of each arm (15 of 24); only the control's route calls it. */
export function translationRequests(e: Experiment, prefix: string): OrchestrateRequest[] {
  return [...idsPerArm(e, `${prefix}-translate`)].flatMap(([, ids]) =>
    ids.map((requestId, k) => ({
      prompt: `Translate "good morning" into language number ${k}.${k % 5 < 3 ? ' [[emulate@gpt-4o:500]]' : ''}`,
      taskType: 'translation',
      userId: 'user-improvement',
      complexityOverride: 'simple' as const,
      requestId,
    })),
  );
}

/** Every provider fails 1 in 3 summarization requests of each arm (8 of 24): the same share in both. */
export function summaryRequests(e: Experiment, prefix: string): OrchestrateRequest[] {
  return [...idsPerArm(e, `${prefix}-summary`)].flatMap(([, ids]) =>
    ids.map((requestId, k) => ({
      prompt: `Summarise in one line: the meeting moved to room ${k}.${k % 3 === 0 ? ' [[emulate:500]]' : ''}`,
      taskType: 'summarization',
      userId: 'user-improvement',
      complexityOverride: 'simple' as const,
      requestId,
    })),
  );
}
