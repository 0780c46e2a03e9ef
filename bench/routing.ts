/**
 * npm run bench:routing: how much of the strongest model's quality performance-based routing keeps,
 * at what share of its cost, and how fast it learns.
 *
 * A generated workload: six models whose quality (chance of a correct answer), latency and price
 * differ by complexity; requests of three complexities. Every request is planned by the same code
 * the planRequest activity runs (planRoute + rankRoute over a statistics snapshot), the chosen
 * model "answers" (correct with its quality, from a seeded random source), and the outcome is
 * observed into RoutingStats as user feedback, the way the worker's statistics learn from stored
 * calls. The snapshot is rebuilt every 50 requests, as a worker's cache refreshes it.
 *
 * Compared with: always the strongest model, and a uniformly random model. Target: at least 95% of
 * the strongest model's quality at no more than 40% of its cost once warmed up.
 */
import { parseConfig } from '../src/config/load';
import { callCostUsd } from '../src/providers/pricing';
import { seededRandom } from '../src/routing/bandit';
import { planRoute, rankRoute } from '../src/routing/planner';
import { policyFromConfig, type Objective, type RoutingPolicy } from '../src/routing/policy';
import { RoutingStats, statsLookup } from '../src/routing/stats';
import type { Complexity } from '../src/types';
import { round } from './stats';

const TOTAL = Number(process.env['BENCH_ROUTING_REQUESTS'] ?? 4000);
const WARMUP = Number(process.env['BENCH_ROUTING_WARMUP'] ?? 1000);
const WINDOW = 200;
const SNAPSHOT_EVERY = 50;
const TARGET_QUALITY_RATIO = 0.95;
const TARGET_COST_RATIO = 0.4;

/**
 * Per model: chance of a correct answer by complexity, and median latency. Strong models are good
 * everywhere; small ones match them on simple requests and fall behind as requests get harder.
 * Complexity is difficulty, not length: every request is 200 tokens in, 250 out.
 */
const MODELS: Record<string, { provider: string; quality: Record<Complexity, number>; latencyMs: number }> = {
  'gpt-4o': { provider: 'openai', quality: { simple: 0.96, medium: 0.95, complex: 0.93 }, latencyMs: 1400 },
  'claude-sonnet-4-6': { provider: 'anthropic', quality: { simple: 0.96, medium: 0.95, complex: 0.92 }, latencyMs: 1800 },
  'gemini-2.5-pro': { provider: 'google', quality: { simple: 0.95, medium: 0.94, complex: 0.9 }, latencyMs: 2000 },
  'gpt-4o-mini': { provider: 'openai', quality: { simple: 0.95, medium: 0.9, complex: 0.72 }, latencyMs: 600 },
  'claude-haiku-4-5': { provider: 'anthropic', quality: { simple: 0.95, medium: 0.91, complex: 0.78 }, latencyMs: 700 },
  'gemini-2.0-flash': { provider: 'google', quality: { simple: 0.94, medium: 0.88, complex: 0.65 }, latencyMs: 500 },
};
const STRONGEST = 'gpt-4o';
const MIX: [Complexity, number][] = [
  ['simple', 0.5],
  ['medium', 0.3],
  ['complex', 0.2],
];
const TOKENS = { in: 200, out: 250 };

const config = parseConfig({
  models: {
    openai: { kind: 'openai', default_model: 'gpt-4o-mini', models: ['gpt-4o'] },
    anthropic: { kind: 'anthropic', default_model: 'claude-haiku-4-5', models: ['claude-sonnet-4-6'] },
    google: { kind: 'google', default_model: 'gemini-2.0-flash', models: ['gemini-2.5-pro'] },
  },
  pricing: {
    'gpt-4o-mini': { input: 0.15, output: 0.6 },
    'gpt-4o': { input: 2.5, output: 10 },
    'claude-haiku-4-5': { input: 1, output: 5 },
    'claude-sonnet-4-6': { input: 3, output: 15 },
    'gemini-2.0-flash': { input: 0.1, output: 0.4 },
    'gemini-2.5-pro': { input: 1.25, output: 10 },
  },
  routing: {
    default_strategy: 'performance_based',
    require_consensus_for_complex: false,
    // One model answers; the other five are the route's candidates (and its failover chain).
    default_providers: ['openai:gpt-4o'],
    default_fallback: ['anthropic:claude-sonnet-4-6', 'google:gemini-2.5-pro', 'openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5', 'google:gemini-2.0-flash'],
  },
});
/** Quality first, cost second: the setting a user who wants "nearly the best, much cheaper" would choose. */
const OBJECTIVE: Objective = { kind: 'weighted', quality: 4, success: 1, cost: 1, latency: 0 };
const policy: RoutingPolicy = { ...policyFromConfig(config, new Date(0).toISOString()), version: 1, objective: OBJECTIVE, explorationRate: 0.05 };

interface Pick {
  model: string;
  complexity: Complexity;
  expectedQuality: number;
  correct: boolean;
  costUsd: number;
}

function cost(model: string): number {
  return callCostUsd(config.pricing, model, TOKENS.in, TOKENS.out, 'openai');
}

/**
 * The best fixed choice per complexity, knowing the table (which the router does not): the
 * cheapest assignment that keeps the target quality. Shows what was achievable.
 */
function oracle(): { quality: number; cost: number; choice: string } {
  const models = Object.keys(MODELS);
  let best: { quality: number; cost: number; choice: string } | null = null;
  const strongQ = MIX.reduce((s, [c, p]) => s + p * MODELS[STRONGEST]!.quality[c], 0);
  const strongC = cost(STRONGEST);
  for (const a of models) for (const b of models) for (const c of models) {
    const pick = [a, b, c];
    const q = MIX.reduce((s, [cx, p], i) => s + p * MODELS[pick[i]!]!.quality[cx], 0) / strongQ;
    const k = MIX.reduce((s, [, p], i) => s + p * cost(pick[i]!), 0) / strongC;
    if (q >= TARGET_QUALITY_RATIO && (!best || k < best.cost)) best = { quality: q, cost: k, choice: MIX.map(([cx], i) => `${cx}: ${pick[i]}`).join(' | ') };
  }
  return best!;
}

function complexityOf(u: number): Complexity {
  let acc = 0;
  for (const [c, p] of MIX) {
    acc += p;
    if (u < acc) return c;
  }
  return 'complex';
}

type Chooser = (complexity: Complexity, i: number) => string;

function simulate(name: string, choose: Chooser, learn?: (p: Pick, at: number) => void): Pick[] {
  const world = seededRandom(`routing-bench-world-${name}`);
  const picks: Pick[] = [];
  for (let i = 0; i < TOTAL; i++) {
    const complexity = complexityOf(world());
    const model = choose(complexity, i);
    const quality = MODELS[model]!.quality[complexity];
    const pick = { model, complexity, expectedQuality: quality, correct: world() < quality, costUsd: cost(model) };
    picks.push(pick);
    learn?.(pick, i);
  }
  return picks;
}

function performanceBased(): Pick[] {
  const stats = new RoutingStats();
  let lookup = statsLookup(stats.snapshot(0));
  const startAt = Date.parse('2026-11-01T00:00:00Z');
  const at = (i: number) => startAt + i * 2000;
  const request = { prompt: 'bench', taskType: 'question_answering', userId: 'bench' };
  return simulate(
    'performance',
    (complexity, i) => {
      if (i % SNAPSHOT_EVERY === 0) lookup = statsLookup(stats.snapshot(at(i)));
      const plan = planRoute({ config, request, assessment: { complexity, score: 0.5, features: {} }, complexitySource: 'override', routingPolicyVersion: policy.version });
      const ranked = rankRoute({ plan, policy, taskType: request.taskType, stats: lookup, random: seededRandom(`req-${i}`) });
      return ranked.targets[0]!.model;
    },
    (p, i) =>
      stats.observe({
        taskType: 'question_answering',
        complexity: p.complexity,
        provider: MODELS[p.model]!.provider,
        model: p.model,
        at: at(i),
        succeeded: true,
        latencyMs: MODELS[p.model]!.latencyMs,
        costUsd: p.costUsd,
        quality: null,
        feedback: p.correct ? 1 : 0,
      }),
  );
}

function summary(picks: readonly Pick[]) {
  const n = picks.length;
  return {
    quality: picks.reduce((s, p) => s + p.expectedQuality, 0) / n,
    correct: picks.filter((p) => p.correct).length / n,
    cost: picks.reduce((s, p) => s + p.costUsd, 0) / n,
  };
}

function main(): void {
  const models = Object.keys(MODELS);
  const strongest = simulate('strongest', () => STRONGEST);
  const randomPick = seededRandom('routing-bench-random');
  const random = simulate('random', () => models[Math.floor(randomPick() * models.length)]!);
  const learned = performanceBased();

  const base = summary(strongest.slice(WARMUP));
  const rel = (s: ReturnType<typeof summary>) => ({ quality: s.quality / base.quality, cost: s.cost / base.cost });

  console.log(`bench:routing: ${TOTAL} requests (${MIX.map(([c, p]) => `${c} ${p * 100}%`).join(', ')}), six models, ${TOKENS.in} tokens in / ${TOKENS.out} out, warm-up ${WARMUP}`);
  console.log(`objective ${JSON.stringify(OBJECTIVE)}, exploration ${policy.explorationRate} (${policy.explorationMethod}), statistics snapshot every ${SNAPSHOT_EVERY} requests\n`);
  console.log('learning curve (performance-based, per window of requests; ratios against always-strongest on the same window):');
  console.log('  requests      quality  cost   expected-quality  mean-cost-usd');
  for (let start = 0; start < TOTAL; start += WINDOW) {
    const w = summary(learned.slice(start, start + WINDOW));
    const s = summary(strongest.slice(start, start + WINDOW));
    console.log(`  ${String(start + 1).padStart(5)}-${String(start + WINDOW).padEnd(5)}   ${(w.quality / s.quality).toFixed(3)}   ${(w.cost / s.cost).toFixed(3)}  ${w.quality.toFixed(4)}            ${w.cost.toFixed(6)}`);
  }

  const warm = rel(summary(learned.slice(WARMUP)));
  const rnd = rel(summary(random.slice(WARMUP)));
  const mixByComplexity = (['simple', 'medium', 'complex'] as const).map((c) => {
    const sel = learned.slice(WARMUP).filter((p) => p.complexity === c);
    const counts = new Map<string, number>();
    for (const p of sel) counts.set(p.model, (counts.get(p.model) ?? 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([m, k]) => `${m} ${round((100 * k) / sel.length)}%`);
    return `${c}: ${top.join(', ')}`;
  });

  console.log(`\nafter warm-up (requests ${WARMUP + 1}-${TOTAL}):`);
  console.log(`  always ${STRONGEST}:     quality 1.000, cost 1.000 (expected quality ${base.quality.toFixed(4)}, $${base.cost.toFixed(6)}/request)`);
  console.log(`  random model:         quality ${rnd.quality.toFixed(3)}, cost ${rnd.cost.toFixed(3)}`);
  const best = oracle();
  console.log(`  oracle (knows table): quality ${best.quality.toFixed(3)}, cost ${best.cost.toFixed(3)}   ${best.choice}`);
  console.log(`  performance-based:    quality ${warm.quality.toFixed(3)}, cost ${warm.cost.toFixed(3)}   (target quality >= ${TARGET_QUALITY_RATIO}, cost <= ${TARGET_COST_RATIO})`);
  console.log(`  models chosen:        ${mixByComplexity.join(' | ')}`);
  const firstWindowAtTarget = (() => {
    for (let start = 0; start < TOTAL; start += WINDOW) {
      const w = summary(learned.slice(start, start + WINDOW));
      const s = summary(strongest.slice(start, start + WINDOW));
      if (w.quality / s.quality >= TARGET_QUALITY_RATIO && w.cost / s.cost <= TARGET_COST_RATIO) return start + WINDOW;
    }
    return null;
  })();
  console.log(`  first window meeting both targets ends at request ${firstWindowAtTarget ?? 'never'}`);
  const met = warm.quality >= TARGET_QUALITY_RATIO && warm.cost <= TARGET_COST_RATIO;
  console.log(met ? '\nTargets met.' : '\nTARGET MISSED.');
  console.log(
    JSON.stringify({
      bench: 'routing',
      requests: TOTAL,
      warmup: WARMUP,
      quality_ratio: round(warm.quality, 3),
      cost_ratio: round(warm.cost, 3),
      random_quality_ratio: round(rnd.quality, 3),
      random_cost_ratio: round(rnd.cost, 3),
      oracle_quality_ratio: round(best.quality, 3),
      oracle_cost_ratio: round(best.cost, 3),
      first_window_at_target: firstWindowAtTarget,
      targets: { quality_ratio_min: TARGET_QUALITY_RATIO, cost_ratio_max: TARGET_COST_RATIO },
      met,
    }),
  );
}

main();
