/**
 * What real sampling diversity buys, measured on a real model (`npm run bench:quality-local`).
 *
 * The model: SmolLM2-135M-Instruct served by llama.cpp's llama-server (scripts/local-model.sh;
 * started here when LOCAL_MODEL_URL is not set, and stopped at the end if this run started it).
 * The path: the real request path. Each question is a request through the worker stack (Temporal
 * dev server from scripts/bench.sh, orchestrateRequest workflow, callProvider activities, the
 * OpenAI-compatible connector over HTTP, the default consensus strategy, SQLite).
 *
 * 100 generated short questions with known answers (arithmetic, capitals, yes/no), each asked as:
 *   - greedy:    one sample at temperature 0 (for reference);
 *   - single:    one sample at temperature T (default 0.8);
 *   - consensus: three samples at temperature T (three providers at the same server), the default
 *                consensus (config.yaml's strategy, early stop and all), requireConsensus.
 * Scored against the known answer (numbers and yes/no as the consensus engine extracts them). Latency is the request's end to end time; cost is USD (0: a
 * local model has no price) and tokens.
 * Target: consensus accuracy >= single-sample accuracy at the same temperature.
 *
 * Ends with one line holding a JSON object of all figures and targets.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load';
import { extractAnswer } from '../src/consensus/answer-extraction';
import type { OrchestrationResult } from '../src/types';
import { LOCAL_MODEL_ID, withLocalModelProviders } from '../scripts/local-model-config';
import { seededRandom } from '../src/routing/bandit';
import { startBenchStack } from './harness';
import { percentile, round, runConcurrent } from './stats';

const QUESTIONS = Number(process.env['BENCH_QUESTIONS'] ?? 100);
const TEMPERATURE = Number(process.env['BENCH_TEMPERATURE'] ?? 0.8);
/** llama-server runs three slots (--parallel 3): three single requests, or one consensus request, at a time. */
const CONCURRENCY = 3;
const SCRIPT = join(__dirname, '..', 'scripts', 'local-model.sh');

type Kind = 'arithmetic' | 'capital' | 'yes_no';
interface Question {
  kind: Kind;
  prompt: string;
  answer: string;
}

const CAPITALS: [string, string][] = [
  ['France', 'Paris'], ['Germany', 'Berlin'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Japan', 'Tokyo'],
  ['England', 'London'], ['Russia', 'Moscow'], ['China', 'Beijing'], ['Egypt', 'Cairo'], ['Greece', 'Athens'],
  ['Portugal', 'Lisbon'], ['Austria', 'Vienna'], ['Ireland', 'Dublin'], ['Norway', 'Oslo'], ['Sweden', 'Stockholm'],
  ['Poland', 'Warsaw'], ['Canada', 'Ottawa'], ['Argentina', 'Buenos Aires'], ['Peru', 'Lima'], ['Kenya', 'Nairobi'],
  ['Thailand', 'Bangkok'], ['South Korea', 'Seoul'], ['Cuba', 'Havana'], ['Finland', 'Helsinki'], ['Denmark', 'Copenhagen'],
  ['Hungary', 'Budapest'], ['Belgium', 'Brussels'], ['the Netherlands', 'Amsterdam'], ['Turkey', 'Ankara'], ['Australia', 'Canberra'],
];
const YES_NO: [string, 'yes' | 'no'][] = [
  ['Is the sun hot?', 'yes'], ['Is ice cold?', 'yes'], ['Can fish swim?', 'yes'], ['Do cats bark?', 'no'],
  ['Is water wet?', 'yes'], ['Is the sky green?', 'no'], ['Do birds have feathers?', 'yes'], ['Is snow black?', 'no'],
  ['Is Paris in France?', 'yes'], ['Is Tokyo in Brazil?', 'no'], ['Do humans need oxygen to live?', 'yes'], ['Can a dog fly without help?', 'no'],
];

/** Deterministic: the same 100 questions every run. */
function generateQuestions(n: number): Question[] {
  const rand = seededRandom(20261201);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const out: Question[] = [];
  let capital = 0;
  let yesNo = 0;
  for (let i = 0; i < n; i++) {
    const slot = i % 10; // 4 arithmetic, 4 capitals, 2 yes/no (plus generated comparisons) in every ten
    if (slot < 4) {
      const a = int(2, 20);
      const b = int(2, 20);
      const op = slot % 2 === 0 ? '+' : '-';
      const [x, y] = op === '-' && b > a ? [b, a] : [a, b];
      out.push({ kind: 'arithmetic', prompt: `What is ${x} ${op} ${y}? Answer with the number only.`, answer: String(op === '+' ? x + y : x - y) });
    } else if (slot < 8) {
      const [country, city] = CAPITALS[capital++ % CAPITALS.length]!;
      out.push({ kind: 'capital', prompt: `What is the capital of ${country}? Answer with the city name only.`, answer: city });
    } else if (slot === 8 && yesNo < YES_NO.length) {
      const [q, a] = YES_NO[yesNo++]!;
      out.push({ kind: 'yes_no', prompt: `${q} Answer yes or no.`, answer: a });
    } else {
      const a = int(1, 50);
      const b = int(1, 50);
      out.push({ kind: 'yes_no', prompt: `Is ${a} greater than ${b}? Answer yes or no.`, answer: a > b ? 'yes' : 'no' });
    }
  }
  return out;
}

/**
 * Whether a reply gives the known answer, read the way consensus reads it (the engine's own answer
 * extraction: "13 + 4 = 17" is 17, "No, cats do not bark" is no); a capital counts when the city is named.
 */
function correct(q: Question, reply: string): boolean {
  if (q.kind === 'capital') return reply.toLowerCase().includes(q.answer.toLowerCase());
  return extractAnswer(reply)?.key === (q.kind === 'arithmetic' ? `num:${q.answer}` : `bool:${q.answer}`);
}

interface Run {
  correct: boolean;
  latencyMs: number;
  costUsd: number;
  tokens: number;
  calls: number;
  cancelled: number;
  confidence: number | null;
  failed: boolean;
}

function summarize(runs: Run[]) {
  const ok = runs.filter((r) => !r.failed);
  return {
    accuracy: round(runs.filter((r) => r.correct).length / runs.length, 3),
    failed: runs.length - ok.length,
    latencyP50Ms: round(percentile(ok.map((r) => r.latencyMs), 50)),
    latencyP95Ms: round(percentile(ok.map((r) => r.latencyMs), 95)),
    costUsdTotal: round(ok.reduce((s, r) => s + r.costUsd, 0), 6),
    tokensPerRequest: round(ok.reduce((s, r) => s + r.tokens, 0) / Math.max(ok.length, 1)),
    callsPerRequest: round(ok.reduce((s, r) => s + r.calls, 0) / Math.max(ok.length, 1), 2),
    cancelledCalls: ok.reduce((s, r) => s + r.cancelled, 0),
  };
}

/** The local server: LOCAL_MODEL_URL, or one started (and later stopped) by this run. */
function localServer(): { url: string; stop: () => void } {
  const given = process.env['LOCAL_MODEL_URL'];
  if (given) return { url: given, stop: () => {} };
  let running = true;
  try {
    execFileSync('bash', [SCRIPT, 'status'], { stdio: 'ignore' });
  } catch {
    running = false;
  }
  const url = execFileSync('bash', [SCRIPT, 'start'], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();
  return { url, stop: running ? () => {} : () => execFileSync('bash', [SCRIPT, 'stop'], { stdio: 'inherit' }) };
}

async function main(): Promise<void> {
  const server = localServer();
  try {
    await bench(server.url);
  } finally {
    server.stop();
  }
}

async function bench(url: string): Promise<void> {
  const questions = generateQuestions(QUESTIONS);
  const stack = await startBenchStack('quality-local', (env) => {
    const base = loadConfig(env.CONFIG_PATH);
    // The emulator serves the other configured providers (unused here: every request names its providers).
    return withLocalModelProviders({ ...base, emulator: { ...base.emulator, mode: 'always' } }, url, [
      { name: 'local_greedy', temperature: 0, maxTokens: 24 },
      { name: 'local_a', temperature: TEMPERATURE, maxTokens: 24 },
      { name: 'local_b', temperature: TEMPERATURE, maxTokens: 24 },
      { name: 'local_c', temperature: TEMPERATURE, maxTokens: 24 },
    ]);
  });
  const tag = Date.now().toString(36);
  const ask = async (q: Question, i: number, mode: 'greedy' | 'single' | 'consensus'): Promise<Run> => {
    const started = performance.now();
    let result: OrchestrationResult;
    try {
      result = await stack.client.processRequest({
        prompt: q.prompt,
        taskType: 'question_answering',
        userId: 'bench-quality-local',
        requestId: `quality-local-${tag}-${mode}-${i}`,
        providers: mode === 'greedy' ? ['local_greedy'] : mode === 'single' ? ['local_a'] : ['local_a', 'local_b', 'local_c'],
        ...(mode === 'consensus' && { requireConsensus: true }),
      });
    } catch {
      return { correct: false, latencyMs: performance.now() - started, costUsd: 0, tokens: 0, calls: 0, cancelled: 0, confidence: null, failed: true };
    }
    const m = result.metadata;
    return {
      correct: correct(q, result.response),
      latencyMs: performance.now() - started,
      costUsd: m.costUsd,
      tokens: m.tokensIn + m.tokensOut,
      calls: m.providers.filter((p) => p.status === 'succeeded').length,
      cancelled: m.cancelledCalls,
      confidence: m.confidence,
      failed: false,
    };
  };

  const runs = await stack.worker.runUntil(async () => {
    await ask({ kind: 'capital', prompt: 'What is the capital of France?', answer: 'Paris' }, -1, 'single'); // warm up
    const out: Record<'greedy' | 'single' | 'consensus', Run[]> = { greedy: [], single: [], consensus: [] };
    for (const mode of ['greedy', 'single', 'consensus'] as const) {
      const results: Run[] = new Array<Run>(questions.length);
      const ms = await runConcurrent(questions.length, mode === 'consensus' ? 1 : CONCURRENCY, async (i) => {
        results[i] = await ask(questions[i]!, i, mode);
      });
      out[mode] = results;
      console.log(`  ${mode.padEnd(9)} ${questions.length} requests in ${round(ms / 1000)} s`);
    }
    return out;
  });
  await stack.close();

  const byKind = (mode: keyof typeof runs) =>
    Object.fromEntries((['arithmetic', 'capital', 'yes_no'] as const).map((k) => {
      const idx = questions.flatMap((q, i) => (q.kind === k ? [i] : []));
      return [k, round(idx.filter((i) => runs[mode][i]!.correct).length / idx.length, 3)];
    }));
  const figures = {
    greedy: { ...summarize(runs.greedy), byKind: byKind('greedy') },
    single: { ...summarize(runs.single), byKind: byKind('single') },
    consensus: {
      ...summarize(runs.consensus),
      byKind: byKind('consensus'),
      meanConfidence: round(
        runs.consensus.filter((r) => r.confidence !== null).reduce((s, r) => s + (r.confidence ?? 0), 0) / Math.max(runs.consensus.filter((r) => r.confidence !== null).length, 1),
        3,
      ),
    },
  };
  // Where consensus and the single sample disagree on correctness: what the extra samples bought or cost.
  const fixed = questions.filter((_, i) => runs.consensus[i]!.correct && !runs.single[i]!.correct).length;
  const broken = questions.filter((_, i) => !runs.consensus[i]!.correct && runs.single[i]!.correct).length;
  const target = { consensusAccuracyAtLeastSingle: true };
  const met = { consensusAccuracyAtLeastSingle: figures.consensus.accuracy >= figures.single.accuracy };

  const pct = (x: number) => `${round(x * 100)}%`;
  console.log(`\nModel ${LOCAL_MODEL_ID} (llama.cpp llama-server at ${url}); ${questions.length} questions (arithmetic / capitals / yes-no); path: the real request path (workflows, activities, connector over HTTP).`);
  for (const [name, f, label] of [
    ['greedy', figures.greedy, 'one sample, temperature 0'],
    ['single', figures.single, `one sample, temperature ${TEMPERATURE}`],
    ['consensus', figures.consensus, `three samples at ${TEMPERATURE}, default consensus`],
  ] as const) {
    console.log(
      `  ${name.padEnd(9)} accuracy ${pct(f.accuracy).padStart(6)} (arith ${pct(f.byKind['arithmetic']!)}, capitals ${pct(f.byKind['capital']!)}, yes/no ${pct(f.byKind['yes_no']!)})` +
        `  latency p50 ${f.latencyP50Ms} ms p95 ${f.latencyP95Ms} ms  ${f.tokensPerRequest} tokens/request, ${f.callsPerRequest} calls/request, cost $${f.costUsdTotal}${f.failed ? `, ${f.failed} failed` : ''}   (${label})`,
    );
  }
  console.log(`  single and greedy ran ${CONCURRENCY} requests at a time, consensus one request (three calls) at a time: three generations at once on the server either way.`);
  console.log(`  consensus fixed ${fixed} of the single sample's wrong answers and broke ${broken} right ones; mean confidence ${figures.consensus.meanConfidence}`);
  console.log(`  target: consensus accuracy >= single-sample accuracy: ${met.consensusAccuracyAtLeastSingle ? 'met' : 'MISSED'}`);
  console.log(
    JSON.stringify({
      bench: 'quality-local',
      model: LOCAL_MODEL_ID,
      path: 'request-path',
      questions: questions.length,
      temperature: TEMPERATURE,
      concurrentGenerations: CONCURRENCY,
      ...figures,
      consensusFixed: fixed,
      consensusBroke: broken,
      targets: target,
      met,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
