/**
 * Deterministic emulator answers. From the prompt we derive one "correct" core claim and a few
 * wrong ones (simple arithmetic is actually computed; other prompts get claims built from their
 * keywords). Each model answers correctly with probability `accuracy`, decided by a stable hash
 * of (model, prompt), and phrases its claim in its own style: correct answers from different
 * models are paraphrases of each other, wrong answers differ in substance. Every answer starts
 * with `[emulator:<model>]`: it never pretends to come from a real model.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_ACCURACY = 0.85;

export interface AnswerOptions {
  model: string;
  /** The user prompt, emulator directives already removed. */
  prompt: string;
  /** Probability in [0,1] of the correct answer (default 0.85). */
  accuracy?: number;
  /** Force the outcome (prompt directive `answer=correct|wrong`). */
  force?: 'correct' | 'wrong';
}

export interface EmulatedAnswer {
  text: string;
  correct: boolean;
  /** In [0,1]; higher for correct answers. Served as log-probabilities where the API has them. */
  confidence: number;
}

/** A stable number in [0,1) from the parts. */
export function unitHash(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0) / 2 ** 32;
}

/** Approximate token count used for all emulated usage figures: ceil(characters / 4). */
export function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function emulatedAnswer({ model, prompt, accuracy = DEFAULT_ACCURACY, force }: AnswerOptions): EmulatedAnswer {
  const verdict = emulatedJudgement({ model, prompt, accuracy, ...(force === undefined ? {} : { force }) });
  if (verdict !== null) return verdict;
  const { correct: right, wrong } = claimsFor(prompt);
  const correct = force ? force === 'correct' : unitHash('accuracy', model, prompt) < accuracy;
  const claim = correct ? right : (wrong[Math.floor(unitHash('wrong', model, prompt) * wrong.length)] ?? right);
  const style = STYLES[Math.floor(unitHash('style', model) * STYLES.length)] ?? STYLES[0];
  const h = unitHash('confidence', model, prompt);
  return {
    text: `[emulator:${model}] ${style ? style(claim) : claim}`,
    correct,
    confidence: Number((correct ? 0.8 + 0.15 * h : 0.45 + 0.25 * h).toFixed(3)),
  };
}

interface Claims {
  correct: string;
  wrong: string[];
}

const STYLES: ((claim: string) => string)[] = [
  (c) => `Here is what I find: ${c}.`,
  (c) => `Short answer: ${c}.`,
  (c) => `Having looked at the question, ${c}.`,
  (c) => `${capitalize(c)}. That is the gist of it.`,
  (c) => `In brief, ${c}.`,
];

const DISTRACTORS = ['cost alone', 'timing', 'pure chance', 'hardware limits', 'historical accident', 'user preference'];

export function claimsFor(prompt: string): Claims {
  const value = arithmetic(prompt);
  if (value !== null) {
    const deltas = Number.isInteger(value) ? [1, -1, 10, -10, 2] : [0.1, -0.1, 1, -1, 0.5];
    return { correct: `the answer is ${formatNumber(value)}`, wrong: deltas.map((d) => `the answer is ${formatNumber(value + d)}`) };
  }
  const [topic = 'the question', a = 'its context', b = 'the details'] = keywords(prompt).map((k) => `"${k}"`);
  const distractor = DISTRACTORS[Math.floor(unitHash('distractor', prompt) * DISTRACTORS.length)] ?? 'timing';
  return {
    correct: `${topic} is best explained by ${a}, which in turn shapes ${b}`,
    wrong: [
      `${topic} has nothing to do with ${a}; it comes down to ${distractor}`,
      `${topic} is unrelated to ${b}, so the usual explanation is mistaken`,
      `${topic} is settled by ${distractor} alone, not by ${a} or ${b}`,
    ],
  };
}

const STOPWORDS = new Set(
  (
    'about above after again also because been before being below between both could does doing during each from further have having here ' +
    'how into itself just more most other over same should some such than that their theirs them then there these they this those through ' +
    'under until very what when where which while whom why will with would your yours please explain describe tell give write answer question'
  ).split(' '),
);

function keywords(prompt: string): string[] {
  const words = prompt.toLowerCase().match(/[a-z][a-z0-9'-]{3,}/g) ?? [];
  return [...new Set(words.filter((w) => !STOPWORDS.has(w)))].slice(0, 3);
}

/** The value of the longest arithmetic expression in the prompt (+ - * / and parentheses), or null. */
export function arithmetic(prompt: string): number | null {
  const normalized = prompt
    .replace(/\bplus\b/gi, '+')
    .replace(/\bminus\b/gi, '-')
    .replace(/\b(times|multiplied by)\b/gi, '*')
    .replace(/\bdivided by\b/gi, '/')
    .replace(/×/g, '*')
    .replace(/÷/g, '/');
  const candidates = (normalized.match(/[\d.()+\-*/\s]+/g) ?? [])
    // A sentence's full stop ("What is 17 * 23.") or a period before the expression is not part of it.
    .map((s) => s.replace(/^(?:\s|\.(?!\d))+|[\s.]+$/g, ''))
    .filter((s) => /\d\s*[-+*/]\s*[-(\d]/.test(s));
  const expr = candidates.sort((x, y) => y.length - x.length)[0];
  if (expr === undefined) return null;
  const value = evaluate(expr);
  return value !== null && Number.isFinite(value) ? value : null;
}

/** Recursive descent over numbers, + - * / and parentheses; null on anything else. */
function evaluate(expr: string): number | null {
  const tokens = expr.match(/\d+(?:\.\d+)?|[-+*/()]/g) ?? [];
  if (tokens.join('') !== expr.replace(/\s+/g, '')) return null;
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const sum = (): number | null => {
    let left = product();
    while (left !== null && (peek() === '+' || peek() === '-')) {
      const op = tokens[i++];
      const right = product();
      left = right === null ? null : op === '+' ? left + right : left - right;
    }
    return left;
  };
  const product = (): number | null => {
    let left = factor();
    while (left !== null && (peek() === '*' || peek() === '/')) {
      const op = tokens[i++];
      const right = factor();
      left = right === null ? null : op === '*' ? left * right : left / right;
    }
    return left;
  };
  const factor = (): number | null => {
    const token = tokens[i++];
    if (token === '-') {
      const inner = factor();
      return inner === null ? null : -inner;
    }
    if (token === '(') {
      const inner = sum();
      return tokens[i++] === ')' ? inner : null;
    }
    return token !== undefined && /^\d/.test(token) ? Number(token) : null;
  };
  const value = sum();
  return i === tokens.length ? value : null;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(4)));
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Judging (the `judge` consensus strategy, src/consensus/judge.ts)

const JUDGE_QUESTION = /<question>([\s\S]*?)<\/question>/;
const JUDGE_CANDIDATE = /<candidate n="(\d+)">([\s\S]*?)<\/candidate>/g;

/**
 * The emulator as a judge: for a prompt in the judge strategy's format (a `<question>`, numbered
 * `<candidate n="k">` blocks and a request for `{"choice", "ranking", "reasons"}` JSON) it answers
 * with that JSON, deterministically. A candidate is correct when it states the question's correct
 * claim (`claimsFor`). With probability `accuracy` (stable per model and prompt) the judge chooses
 * the first correct candidate, otherwise the first wrong one (when there is none, the first
 * candidate); the ranking puts the choice first, then the candidates as right as it, then the
 * rest. `correct` says whether the chosen candidate is correct. Any other prompt: null.
 */
export function emulatedJudgement({ model, prompt, accuracy = DEFAULT_ACCURACY, force }: AnswerOptions): EmulatedAnswer | null {
  const question = JUDGE_QUESTION.exec(prompt)?.[1]?.trim();
  if (question === undefined || !prompt.includes('"choice"')) return null;
  const candidates = [...prompt.matchAll(JUDGE_CANDIDATE)].map((m) => ({ n: Number(m[1]), text: (m[2] ?? '').toLowerCase() }));
  if (candidates.length === 0) return null;
  const claim = claimsFor(question).correct.toLowerCase();
  const states = (text: string): boolean => {
    const at = text.indexOf(claim);
    return at >= 0 && !/\d/.test(text.charAt(at + claim.length));
  };
  const rated = candidates.map((c) => ({ ...c, right: states(c.text) }));
  const judgesWell = force ? force === 'correct' : unitHash('judge', model, prompt) < accuracy;
  const chosen = rated.find((c) => c.right === judgesWell) ?? rated[0]!;
  const ranking = [chosen, ...rated.filter((c) => c !== chosen && c.right === chosen.right), ...rated.filter((c) => c.right !== chosen.right)].map((c) => c.n);
  const reasons = chosen.right ? `Candidate ${chosen.n} states that ${claim}, which is correct.` : `Candidate ${chosen.n} reads as the most convincing.`;
  const h = unitHash('confidence', model, prompt);
  return {
    text: `[emulator:${model}] ${JSON.stringify({ choice: chosen.n, ranking, reasons })}`,
    correct: chosen.right,
    confidence: Number((chosen.right ? 0.8 + 0.15 * h : 0.45 + 0.25 * h).toFixed(3)),
  };
}
