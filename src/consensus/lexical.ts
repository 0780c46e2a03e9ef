/**
 * Lexical consensus: responses compared by the overlap of their word sets (Jaccard), the
 * medoid (the response closest to all others) chosen. No model needed; a baseline until the
 * embedding strategy lands, and a cheap choice for short factual answers.
 *
 * Word overlap runs low for paraphrases ("In brief, X." vs "Having looked at it, X."), so its
 * default agreement threshold is 0.25 (`consensus.strategies.lexical.threshold`).
 *
 * - Two responses whose explicit answers differ (`agreement.ts`: a final-answer line, code, JSON,
 *   or the number of a short answer) score 0 whatever their wording: "The answer is Paris." and
 *   "The answer is Lyon." share most words and no answer.
 * - `dissenting` = responses whose overlap with the chosen one is below `context.threshold`.
 * - `confidence` = the share of responses that side with the chosen one (itself included).
 * - `agreement` = the mean pairwise overlap.
 * - `thresholdMet` = a strict majority of the responses side with the chosen one.
 */
import type { GenerateResponse } from '../types';
import { conflictMatrix } from './agreement';
import type { ConsensusContext, ConsensusDecision, ConsensusStrategy, LexicalDetails } from './strategy';

/** Jaccard similarity at or above which two answers count as agreeing. */
export const LEXICAL_DEFAULT_THRESHOLD = 0.25;

const STOPWORDS = new Set(['the', 'a', 'an', 'is', 'are', 'of', 'to', 'and', 'in', 'it', 'that', 'this', 'for', 'on', 'with', 'as', 'be', 'by', 'or']);

export function wordSet(text: string): Set<string> {
  const words = text
    .toLowerCase()
    .replace(/\[[^\]]*\]/g, ' ') // bracketed tags such as "[emulator:model]"
    .split(/[^\p{L}\p{N}.]+/u)
    .map((w) => w.replace(/^\.+|\.+$/g, ''))
    .filter((w) => w.length > 0 && !STOPWORDS.has(w));
  return new Set(words);
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

/** Symmetric similarity matrix with ones on the diagonal; a text without words (empty) is similar to nothing else. */
export function similarityMatrix(texts: readonly string[]): number[][] {
  const sets = texts.map(wordSet);
  return sets.map((a, i) => sets.map((b, j) => (i === j ? 1 : a.size === 0 || b.size === 0 ? 0 : jaccard(a, b))));
}

export class LexicalConsensus implements ConsensusStrategy {
  readonly name = 'lexical';

  findConsensus(responses: readonly GenerateResponse[], context: ConsensusContext): ConsensusDecision {
    if (responses.length === 0) throw new Error('consensus needs at least one response');
    const contents = responses.map((r) => r.content);
    const conflicts = conflictMatrix(contents);
    const m = similarityMatrix(contents).map((row, i) => row.map((s, j) => (conflicts[i]![j] ? 0 : s)));
    const n = responses.length;
    const closeness = m.map((row, i) => (n === 1 ? 1 : row.reduce((sum, s, j) => (i === j ? sum : sum + s), 0) / (n - 1)));
    let chosenIndex = 0;
    closeness.forEach((c, i) => {
      if (c > (closeness[chosenIndex] ?? -1)) chosenIndex = i;
    });
    const row = m[chosenIndex] ?? [];
    const dissenting = row.flatMap((s, j) => (j !== chosenIndex && s < context.threshold ? [j] : []));
    // Confidence: the share of all responses that side with the chosen one (itself included).
    const confidence = (n - dissenting.length) / n;
    const agreement = pairwiseMean(m);
    const support = n - dissenting.length;
    const details: LexicalDetails = { strategy: 'lexical', matrix: m.map((r) => r.map(round)), closeness: closeness.map(round), support };
    return { chosenIndex, confidence: round(confidence), agreement: round(agreement), dissenting, thresholdMet: 2 * support > n, details };
  }

  calculateConfidence(responses: readonly GenerateResponse[]): number {
    if (responses.length < 2) return 1;
    return round(pairwiseMean(similarityMatrix(responses.map((r) => r.content))));
  }
}

function pairwiseMean(m: number[][]): number {
  let sum = 0;
  let pairs = 0;
  m.forEach((row, i) =>
    row.forEach((s, j) => {
      if (j > i) {
        sum += s;
        pairs++;
      }
    }),
  );
  return pairs === 0 ? 1 : sum / pairs;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
