/**
 * Consensus engine benchmark (`npm run bench:consensus`). Needs the embedding model
 * (`bash scripts/fetch-model.sh`); no Temporal server, no network.
 *
 * 1. Accuracy: a generated set of arithmetic questions, each answered by three emulated models
 *    (`emulatedAnswer`, accuracy 0.7 each). Whether their errors are independent is measured,
 *    not assumed. Every strategy's pick is scored against the best single model. Target: majority
 *    voting over three at 70% reaches at least 78% (independent voting predicts 78.4% for a strict
 *    majority; plurality with a tie-break adds the lucky 1-1-1 ties). The default `similarity`
 *    strategy decides these by a vote over the extracted answers; its former rule (embeddings
 *    only) is measured beside it, and so are free-text questions, which similarity still decides
 *    by embeddings. For every arithmetic decision: whether `thresholdMet` and the workflow's
 *    low-confidence test contradict each other, with the decision as the strategy returns it and
 *    as `selectConsensus` returns it (`withConsensusCriteria`, confidence_threshold 0.7).
 * 2. Embedding throughput: sentences/s and tokens/s, short answers and 200-token texts.
 * 3. Consensus latency added after the last of three 200-token responses, the model loaded and
 *    the first two embedded while waiting for the third. Target: p50 < 80 ms.
 * 4. Early stop (simulated provider latencies): how often voting stops before the last response,
 *    the latency saved, and that the decision never differs from waiting for all.
 * 5. The embedding cache in the database (a scratch SQLite file): sentences/s computing and writing
 *    back (cold), then a new model instance with an empty memory cache reading them back (warm from
 *    the database), against the in-memory cache; and the consensus latency of (3) with the
 *    database cache behind the model (read before computing; written back in the background).
 *
 * Ends with one line holding a JSON object of all figures and targets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, round } from './stats';
import {
  type ConsensusDecision,
  type ConsensusStrategy,
  comparableText,
  ConfidenceConsensus,
  canStopEarly,
  cosineMatrix,
  createPrismaEmbeddingCache,
  decideBySimilarity,
  type EmbeddingCache,
  EmbeddingModel,
  extractAnswer,
  LEXICAL_DEFAULT_THRESHOLD,
  LexicalConsensus,
  SimilarityConsensus,
  VotingConsensus,
  withConsensusCriteria,
} from '../src/consensus';
import { arithmetic, emulatedAnswer } from '../src/emulator/answers';
import { createPrismaClient } from '../src/memory/client';
import { applyMigrations } from '../src/memory/migrate';
import type { GenerateResponse } from '../src/types';
import { seededRandom } from '../src/routing/bandit';

const QUESTIONS = Number(process.env['BENCH_QUESTIONS'] ?? 1000);
const ACCURACY = 0.7;
const MODELS = ['gpt-4o-mini', 'claude-haiku-4-5', 'gemini-2.0-flash'] as const;
const LATENCY_TRIALS = Number(process.env['BENCH_LATENCY_TRIALS'] ?? 60);
const TARGETS = { votingAccuracy: 0.78, consensusLatencyP50Ms: 80 };
const SIMILARITY_THRESHOLD = 0.8;
/** consensus.confidence_threshold in the shipped config.yaml. */
const CONFIDENCE_THRESHOLD = 0.7;
const FREE_TEXT_QUESTIONS = Number(process.env['BENCH_FREE_TEXT_QUESTIONS'] ?? 300);

interface Question {
  prompt: string;
  responses: GenerateResponse[];
  correct: boolean[];
}

function arithmeticPrompt(random: () => number, i: number): string {
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  switch (i % 4) {
    case 0:
      return `What is ${int(3, 99)} * ${int(3, 99)}?`;
    case 1:
      return `What is ${int(10, 999)} + ${int(10, 999)} - ${int(1, 99)}?`;
    case 2:
      return `What is (${int(2, 50)} + ${int(2, 50)}) * ${int(2, 20)}?`;
    default:
      return `What is ${int(100, 9999)} divided by ${int(2, 40)}?`;
  }
}

const TOPICS = ['caching', 'replication', 'sharding', 'backpressure', 'idempotency', 'consensus', 'leases', 'heartbeats', 'retries', 'quotas', 'indexes', 'snapshots'];
const ASPECTS = ['latency', 'durability', 'throughput', 'ordering', 'recovery', 'contention', 'fairness', 'visibility', 'isolation', 'cost'];

/** A free-text question: the emulator answers it with a sentence built from its keywords, right or wrong in substance. */
function freeTextPrompt(random: () => number): string {
  const pick = (xs: readonly string[]): string => xs[Math.floor(random() * xs.length)]!;
  return `Explain how ${pick(TOPICS)} affects ${pick(ASPECTS)} under ${pick(ASPECTS)} pressure.`;
}

function buildQuestions(count = QUESTIONS, kind: 'arithmetic' | 'free_text' = 'arithmetic'): Question[] {
  const random = seededRandom(kind === 'arithmetic' ? 20240601 : 20240602);
  return Array.from({ length: count }, (_, i) => {
    const prompt = kind === 'arithmetic' ? arithmeticPrompt(random, i) : freeTextPrompt(random);
    if (kind === 'arithmetic' && arithmetic(prompt) === null) throw new Error(`the emulator does not compute "${prompt}": not an arithmetic question for it`);
    const answers = MODELS.map((model) => ({ model, ...emulatedAnswer({ model, prompt, accuracy: ACCURACY }) }));
    return {
      prompt,
      correct: answers.map((a) => a.correct),
      responses: answers.map((a) => ({
        content: a.text,
        provider: a.model.split('-')[0]!,
        model: a.model,
        tokensIn: 10,
        tokensOut: 10,
        latencyMs: 0,
        finishReason: 'stop' as const,
        providerRequestId: null,
        confidence: a.confidence,
      })),
    };
  });
}

/** Whether correctness is independent across models: per pair, phi and its z-score (phi * sqrt(n)). */
function independence(questions: Question[]) {
  const n = questions.length;
  const p = MODELS.map((_, m) => questions.filter((q) => q.correct[m]).length / n);
  const pairs: { pair: string; bothCorrect: number; expected: number; phi: number; z: number; sameWrongAnswer: number }[] = [];
  for (let a = 0; a < MODELS.length; a++) {
    for (let b = a + 1; b < MODELS.length; b++) {
      const both = questions.filter((q) => q.correct[a] && q.correct[b]).length / n;
      const pa = p[a]!;
      const pb = p[b]!;
      const phi = (both - pa * pb) / Math.sqrt(pa * (1 - pa) * pb * (1 - pb));
      const bothWrong = questions.filter((q) => !q.correct[a] && !q.correct[b]);
      const same = bothWrong.filter((q) => answerOf(q.responses[a]!) === answerOf(q.responses[b]!)).length;
      pairs.push({
        pair: `${MODELS[a]} / ${MODELS[b]}`,
        bothCorrect: both,
        expected: pa * pb,
        phi,
        z: phi * Math.sqrt(n),
        sameWrongAnswer: bothWrong.length > 0 ? same / bothWrong.length : 0,
      });
    }
  }
  // Majority of three under independence, with the measured per-model accuracies.
  const [p1, p2, p3] = p as [number, number, number];
  const strictMajority = p1 * p2 * p3 + p1 * p2 * (1 - p3) + p1 * (1 - p2) * p3 + (1 - p1) * p2 * p3;
  const measuredStrictMajority = questions.filter((q) => q.correct.filter(Boolean).length >= 2).length / n;
  return { perModel: p, pairs, predictedStrictMajority: strictMajority, measuredStrictMajority };
}

function answerOf(r: GenerateResponse): string {
  return extractAnswer(r.content)?.key ?? r.content;
}

async function accuracy(questions: Question[], strategy: ConsensusStrategy, threshold: number, transform?: (r: GenerateResponse) => GenerateResponse): Promise<number> {
  let right = 0;
  for (const q of questions) {
    const responses = transform ? q.responses.map(transform) : q.responses;
    const d = await strategy.findConsensus(responses, { taskType: 'benchmark', prompt: q.prompt, threshold });
    if (q.correct[d.chosenIndex]) right++;
  }
  return right / questions.length;
}

/** The similarity rule before extracted-answer votes: the embedding medoid for every input. */
function embeddingsOnly(model: EmbeddingModel): ConsensusStrategy {
  return {
    name: 'similarity_embeddings_only',
    async findConsensus(responses, context) {
      const vectors = await model.embed(responses.map((r) => comparableText(r.content)));
      return decideBySimilarity(cosineMatrix(vectors), context.threshold);
    },
    calculateConfidence: () => 1,
  };
}

/**
 * How the decisions' flags relate, consensus required: `contradictions` = thresholdMet true while
 * the workflow's low-confidence test (`thresholdMet === false || confidence < 0.7`) flags it.
 */
async function flags(questions: Question[], strategy: ConsensusStrategy, threshold: number) {
  let byVote = 0;
  let rawContradictions = 0;
  let contradictions = 0;
  let thresholdMet = 0;
  let lowConfidence = 0;
  const unsure = (d: ConsensusDecision): boolean => d.thresholdMet === false || d.confidence < CONFIDENCE_THRESHOLD;
  for (const q of questions) {
    const raw = await strategy.findConsensus(q.responses, { taskType: 'benchmark', prompt: q.prompt, threshold });
    if (raw.details?.strategy === 'similarity' && raw.details.decidedBy === 'extracted-answer vote') byVote++;
    if (raw.thresholdMet === true && unsure(raw)) rawContradictions++;
    const d = withConsensusCriteria(raw, CONFIDENCE_THRESHOLD);
    if (d.thresholdMet) thresholdMet++;
    if (unsure(d)) lowConfidence++;
    if (d.thresholdMet && unsure(d)) contradictions++;
  }
  const n = questions.length;
  return { decidedByVote: byVote / n, thresholdMet: thresholdMet / n, lowConfidence: lowConfidence / n, rawContradictions: rawContradictions / n, contradictions: contradictions / n };
}

const WORDS = (
  'the system request worker queue retry budget provider model answer response latency timeout cache database record history ' +
  'workflow activity signal schedule policy route cost token stream client server network failure success value result check ' +
  'because while after before during although which where when this that these those each every some many most few other ' +
  'quickly carefully often rarely always never usually clearly simply directly safely slowly ' +
  'handles returns stores reads writes sends receives measures compares selects rejects accepts waits starts stops ' +
  'large small fast slow stable recent durable parallel partial complete correct expected'
).split(' ');

/** A text of about `tokens` model tokens (special tokens excluded), from a seeded word stream. */
function textOfTokens(model: EmbeddingModel, tokens: number, seed: number): string {
  const random = seededRandom(seed);
  const words: string[] = [];
  let sentence = 0;
  while (model.countTokens(words.join(' ')) - 2 < tokens) {
    const w = WORDS[Math.floor(random() * WORDS.length)]!;
    words.push(sentence === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w);
    sentence++;
    if (sentence > 8 + Math.floor(random() * 8)) {
      words[words.length - 1] += '.';
      sentence = 0;
    }
  }
  return words.join(' ');
}

async function throughput(texts: string[], batch: number): Promise<{ sentencesPerS: number; tokensPerS: number; tokensPerText: number }> {
  const model = await EmbeddingModel.load({ cacheSize: 0, batchSize: batch });
  await model.embed(texts.slice(0, Math.min(4, texts.length)).map((t) => `${t} warmup`));
  const before = model.statistics().tokens;
  const started = performance.now();
  await model.embed(texts);
  const seconds = (performance.now() - started) / 1000;
  const tokens = model.statistics().tokens - before;
  return { sentencesPerS: texts.length / seconds, tokensPerS: tokens / seconds, tokensPerText: tokens / texts.length };
}

function response(content: string, provider: string): GenerateResponse {
  return { content, provider, model: provider, tokensIn: 0, tokensOut: 200, latencyMs: 0, finishReason: 'stop', providerRequestId: null, confidence: null };
}

/** Latency added after the last of three ~200-token responses. */
async function consensusLatency(model: EmbeddingModel, seed = 0): Promise<{ prepared: number[]; unprepared: number[] }> {
  const strategy = new SimilarityConsensus({ model });
  const ctx = { taskType: 'benchmark', prompt: 'Explain the design.', threshold: SIMILARITY_THRESHOLD };
  const prepared: number[] = [];
  const unprepared: number[] = [];
  for (let trial = -3; trial < LATENCY_TRIALS; trial++) {
    const [a, b, c] = [0, 1, 2].map((k) => response(textOfTokens(model, 200, seed + 1000 + trial * 10 + k), `p${k}`)) as [GenerateResponse, GenerateResponse, GenerateResponse];
    // The first two arrive while the third provider is still running: embed them then.
    await strategy.prepare([a]);
    await strategy.prepare([b]);
    const started = performance.now();
    await strategy.findConsensus([a, b, c], ctx);
    const elapsed = performance.now() - started;
    if (trial >= 0) prepared.push(elapsed);
    // For comparison: all three embedded only after the last one arrived.
    const [x, y, z] = [0, 1, 2].map((k) => response(textOfTokens(model, 200, seed + 5000 + trial * 10 + k), `q${k}`));
    const started2 = performance.now();
    await strategy.findConsensus([x!, y!, z!], ctx);
    if (trial >= 0) unprepared.push(performance.now() - started2);
  }
  return { prepared, unprepared };
}

/** Sentences/s of one `embed` call over all texts. */
async function rate(model: EmbeddingModel, texts: string[]): Promise<number> {
  const started = performance.now();
  await model.embed(texts);
  return texts.length / ((performance.now() - started) / 1000);
}

/**
 * The database embedding cache on a scratch SQLite file: cold (compute and write back), warm from
 * the database (a new model instance, empty memory cache), warm from memory; and consensus latency
 * with the database cache behind the model.
 */
async function databaseCache(short: string[], long: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-embeddings-'));
  const url = `file:${join(dir, 'bench.db')}`;
  await applyMigrations(url);
  const client = createPrismaClient(url);
  try {
    const cache: EmbeddingCache = createPrismaEmbeddingCache({ client, provider: 'sqlite' });
    const figures = async (texts: string[]) => {
      const cold = await EmbeddingModel.load({ persistentCache: cache });
      await cold.embed(['warm the runtime up']);
      const coldRate = await rate(cold, texts);
      const memoryRate = await rate(cold, texts);
      const warm = await EmbeddingModel.load({ persistentCache: cache });
      const warmRate = await rate(warm, texts);
      if (warm.statistics().computed !== 0) throw new Error(`warm-from-database run computed ${warm.statistics().computed} vectors: the database cache missed`);
      return { coldSentencesPerS: coldRate, warmFromDbSentencesPerS: warmRate, memorySentencesPerS: memoryRate };
    };
    const shortFigures = await figures(short);
    const longFigures = await figures(long);
    const latencyModel = await EmbeddingModel.load({ persistentCache: cache });
    const latency = await consensusLatency(latencyModel, 70_000);
    await latencyModel.flushWrites(); // similarity writes new vectors back in the background
    return { short: shortFigures, long: longFigures, latencyP50: percentile(latency.prepared, 50), rows: await client.embeddingCache.count() };
  } finally {
    await client.$disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Simulated early stop: providers answer after log-normal latencies (median 1.2 s). */
function earlyStop(questions: Question[]) {
  const random = seededRandom(7);
  const voting = new VotingConsensus({ tieBreak: 'first' });
  const ctx = { taskType: 'benchmark', prompt: '', threshold: 0.6 };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  let stopped = 0;
  let sameDecision = 0;
  const saved: number[] = [];
  for (const q of questions) {
    const arrivals = q.responses.map((r, i) => ({ r, i, at: 1200 * Math.exp(0.5 * normal()) })).sort((x, y) => x.at - y.at);
    const last = arrivals[arrivals.length - 1]!.at;
    const full = voting.findConsensus(q.responses, ctx);
    let stopAt = last;
    let early = full;
    for (let k = 1; k < arrivals.length; k++) {
      const sofar = arrivals.slice(0, k);
      const d = voting.findConsensus(
        sofar.map((s) => s.r),
        ctx,
      );
      if (canStopEarly(d, k, arrivals.length)) {
        stopAt = sofar[k - 1]!.at;
        early = { ...d, chosenIndex: sofar[d.chosenIndex]!.i };
        stopped++;
        break;
      }
    }
    if (answerOf(q.responses[early.chosenIndex]!) === answerOf(q.responses[full.chosenIndex]!)) sameDecision++;
    saved.push(last - stopAt);
  }
  return {
    stopRate: stopped / questions.length,
    savedMeanMs: saved.reduce((s, x) => s + x, 0) / saved.length,
    savedP50WhenStoppedMs: percentile(
      saved.filter((s) => s > 0),
      50,
    ),
    sameDecisionRate: sameDecision / questions.length,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

async function main(): Promise<void> {
  const model = await EmbeddingModel.load();
  const questions = buildQuestions();

  const ind = independence(questions);
  const bestSingle = Math.max(...ind.perModel);
  console.log(`Consensus benchmark: ${QUESTIONS} arithmetic questions, three emulated models at accuracy ${ACCURACY}\n`);
  console.log('Independence of errors (correctness per pair of models):');
  for (const pair of ind.pairs) {
    console.log(
      `  ${pair.pair.padEnd(36)} both correct ${pct(pair.bothCorrect)} (independent: ${pct(pair.expected)}), phi ${pair.phi.toFixed(3)}, z ${pair.z.toFixed(2)}; both wrong with the same wrong answer ${pct(pair.sameWrongAnswer)}`,
    );
  }
  const independent = ind.pairs.every((p) => Math.abs(p.z) < 3);
  console.log(`  => ${independent ? 'consistent with independent errors (|z| < 3 for every pair)' : 'NOT independent: some pair has |z| >= 3'}`);
  console.log(`  at least two of three correct: ${pct(ind.measuredStrictMajority)} (independence predicts ${pct(ind.predictedStrictMajority)})\n`);

  const stripConfidence = (r: GenerateResponse): GenerateResponse => ({ ...r, confidence: null });
  const votingFirst = new VotingConsensus({ tieBreak: 'first' });
  const results: Record<string, number> = {
    best_single_model: bestSingle,
    voting: await accuracy(questions, votingFirst, 0.6),
    voting_ties_by_confidence: await accuracy(questions, new VotingConsensus(), 0.6),
    voting_weighted_by_confidence: await accuracy(questions, new VotingConsensus({ weights: 'confidence' }), 0.6),
    similarity: await accuracy(questions, new SimilarityConsensus({ model }), SIMILARITY_THRESHOLD),
    similarity_without_provider_confidence: await accuracy(questions, new SimilarityConsensus({ model }), SIMILARITY_THRESHOLD, stripConfidence),
    similarity_embeddings_only: await accuracy(questions, embeddingsOnly(model), SIMILARITY_THRESHOLD),
    lexical: await accuracy(questions, new LexicalConsensus(), LEXICAL_DEFAULT_THRESHOLD),
    confidence_provider: await accuracy(questions, new ConfidenceConsensus(), 0.8),
    confidence_estimate: await accuracy(questions, new ConfidenceConsensus(), 0.8, stripConfidence),
  };
  const notes: Record<string, string> = {
    best_single_model: 'per-model accuracy: ' + ind.perModel.map(pct).join(', '),
    voting: 'plurality; ties (1-1-1) to the first response',
    voting_ties_by_confidence: 'the default tie-break',
    voting_weighted_by_confidence: 'votes weighted by provider confidence',
    similarity: 'the default: a vote over the extracted answers (ties to the most confident provider)',
    similarity_without_provider_confidence: 'the same, no provider confidence (ties to the first answer)',
    similarity_embeddings_only: `the former rule: all-MiniLM-L6-v2 medoid, threshold ${SIMILARITY_THRESHOLD}`,
    lexical: 'word-overlap medoid',
    confidence_provider: "emulator confidence (correct 0.80-0.95, wrong 0.45-0.70 by construction: optimistic)",
    confidence_estimate: 'no provider confidence: engine estimate (word overlap with the others)',
  };
  console.log('Accuracy (chosen answer correct):');
  for (const [name, value] of Object.entries(results)) console.log(`  ${name.padEnd(38)} ${pct(value).padStart(6)}   ${notes[name] ?? ''}`);
  console.log();

  const freeText = buildQuestions(FREE_TEXT_QUESTIONS, 'free_text');
  const freeResults: Record<string, number> = {
    best_single_model: Math.max(...MODELS.map((_, m) => freeText.filter((q) => q.correct[m]).length / freeText.length)),
    similarity: await accuracy(freeText, new SimilarityConsensus({ model }), SIMILARITY_THRESHOLD),
    voting: await accuracy(freeText, votingFirst, 0.6),
    lexical: await accuracy(freeText, new LexicalConsensus(), LEXICAL_DEFAULT_THRESHOLD),
  };
  const freeByVote = (await flags(freeText, new SimilarityConsensus({ model }), SIMILARITY_THRESHOLD)).decidedByVote;
  console.log(`Accuracy on ${FREE_TEXT_QUESTIONS} free-text questions (answers differ in substance, phrased per model; similarity decided by embeddings in ${pct(1 - freeByVote)}):`);
  for (const [name, value] of Object.entries(freeResults)) console.log(`  ${name.padEnd(38)} ${pct(value).padStart(6)}`);
  console.log();

  const flagsNow = await flags(questions, new SimilarityConsensus({ model }), SIMILARITY_THRESHOLD);
  const flagsBefore = await flags(questions, embeddingsOnly(model), SIMILARITY_THRESHOLD);
  console.log(`thresholdMet vs low confidence (consensus required, confidence_threshold ${CONFIDENCE_THRESHOLD}), arithmetic questions:`);
  for (const [label, f] of [
    ['similarity', flagsNow],
    ['similarity_embeddings_only', flagsBefore],
  ] as const) {
    console.log(
      `  ${label.padEnd(28)} decided by vote ${pct(f.decidedByVote)}; thresholdMet true yet flagged: ${pct(f.rawContradictions)} as the strategy returns it, ${pct(f.contradictions)} after selectConsensus; thresholdMet ${pct(f.thresholdMet)}, low confidence ${pct(f.lowConfidence)}`,
    );
  }
  console.log();

  const short = questions.slice(0, 512).map((q, i) => `${q.responses[i % 3]!.content} (${i})`);
  const long = Array.from({ length: 48 }, (_, i) => textOfTokens(model, 200, 90_000 + i));
  const shortRate = await throughput(short, 32);
  const longRate = await throughput(long, 8);
  console.log('Embedding throughput (model loaded, no cache):');
  console.log(`  short answers (~${shortRate.tokensPerText.toFixed(0)} tokens): ${shortRate.sentencesPerS.toFixed(0)} sentences/s, ${shortRate.tokensPerS.toFixed(0)} tokens/s`);
  console.log(`  200-token texts:          ${longRate.sentencesPerS.toFixed(1)} sentences/s, ${longRate.tokensPerS.toFixed(0)} tokens/s\n`);

  const latency = await consensusLatency(model);
  const p50 = percentile(latency.prepared, 50);
  const p95 = percentile(latency.prepared, 95);
  const cold50 = percentile(latency.unprepared, 50);
  console.log(`Consensus latency after the last of three 200-token responses (similarity, ${LATENCY_TRIALS} trials):`);
  console.log(`  first two embedded while waiting: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`);
  console.log(`  all three embedded at the end:    p50 ${cold50.toFixed(1)} ms (for comparison)\n`);

  const db = await databaseCache(
    short.map((t) => `${t} [db]`),
    long.map((t) => `${t} db`),
  );
  console.log(`Embedding cache in the database (SQLite, ${db.rows} rows; new model instance = empty memory cache):`);
  for (const [label, f] of [
    ['short answers', db.short],
    ['200-token texts', db.long],
  ] as const) {
    console.log(
      `  ${label.padEnd(16)} cold (compute + write) ${f.coldSentencesPerS.toFixed(0)}/s; warm from the database ${f.warmFromDbSentencesPerS.toFixed(0)}/s (${(f.warmFromDbSentencesPerS / f.coldSentencesPerS).toFixed(0)}x); from memory ${f.memorySentencesPerS.toFixed(0)}/s`,
    );
  }
  console.log(`  consensus latency of (3) with the database cache behind the model: p50 ${db.latencyP50.toFixed(1)} ms\n`);

  const stop = earlyStop(questions);
  console.log('Early stop (voting, 3 providers, simulated log-normal latencies, median 1.2 s):');
  console.log(`  stopped before the last response: ${pct(stop.stopRate)}; latency saved: mean ${stop.savedMeanMs.toFixed(0)} ms per request, p50 ${stop.savedP50WhenStoppedMs.toFixed(0)} ms when stopped`);
  console.log(`  same answer as waiting for all: ${pct(stop.sameDecisionRate)}\n`);

  const votingMet = results['voting']! >= TARGETS.votingAccuracy;
  const latencyMet = p50 < TARGETS.consensusLatencyP50Ms;
  console.log(`Targets: voting accuracy >= ${pct(TARGETS.votingAccuracy)}: ${pct(results['voting']!)} ${votingMet ? 'met' : 'MISSED'}; consensus latency p50 < ${TARGETS.consensusLatencyP50Ms} ms: ${p50.toFixed(1)} ms ${latencyMet ? 'met' : 'MISSED'}`);
  console.log(
    JSON.stringify({
      bench: 'consensus',
      questions: QUESTIONS,
      modelAccuracy: ACCURACY,
      independence: { independent, maxAbsZ: round(Math.max(...ind.pairs.map((p) => Math.abs(p.z))), 2), predictedStrictMajority: round(ind.predictedStrictMajority, 4), measuredStrictMajority: round(ind.measuredStrictMajority, 4) },
      accuracy: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round(v, 4)])),
      freeTextAccuracy: Object.fromEntries(Object.entries(freeResults).map(([k, v]) => [k, round(v, 4)])),
      flags: {
        similarity: Object.fromEntries(Object.entries(flagsNow).map(([k, v]) => [k, round(v, 4)])),
        similarityEmbeddingsOnly: Object.fromEntries(Object.entries(flagsBefore).map(([k, v]) => [k, round(v, 4)])),
      },
      embedding: {
        shortSentencesPerS: round(shortRate.sentencesPerS),
        shortTokensPerS: round(shortRate.tokensPerS),
        longSentencesPerS: round(longRate.sentencesPerS),
        longTokensPerS: round(longRate.tokensPerS),
      },
      latencyMs: { p50: round(p50), p95: round(p95), allAtEndP50: round(cold50), withDbCacheP50: round(db.latencyP50) },
      dbCache: {
        shortColdSentencesPerS: round(db.short.coldSentencesPerS),
        shortWarmFromDbSentencesPerS: round(db.short.warmFromDbSentencesPerS),
        shortMemorySentencesPerS: round(db.short.memorySentencesPerS),
        longColdSentencesPerS: round(db.long.coldSentencesPerS),
        longWarmFromDbSentencesPerS: round(db.long.warmFromDbSentencesPerS),
        longMemorySentencesPerS: round(db.long.memorySentencesPerS),
      },
      earlyStop: { stopRate: round(stop.stopRate, 4), savedMeanMs: round(stop.savedMeanMs), savedP50WhenStoppedMs: round(stop.savedP50WhenStoppedMs), sameDecisionRate: round(stop.sameDecisionRate, 4) },
      targets: {
        votingAccuracy: { target: TARGETS.votingAccuracy, value: round(results['voting']!, 4), met: votingMet },
        consensusLatencyP50Ms: { target: TARGETS.consensusLatencyP50Ms, value: round(p50), met: latencyMet },
      },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
