/**
 * Whether two responses give the same answer, for strategies that choose by another rule
 * (`confidence`, `judge`) and still have to say who dissents.
 *
 * 1. Same normalized answer (`extractAnswer`: number by value, JSON by value, code by normalized
 *    content, final-answer line): they agree.
 * 2. Both carry an explicit answer that differs: they disagree. Explicit: code, JSON, a final-answer
 *    line that is a number, a choice, a yes/no, JSON or at most `SHORT_FINAL_WORDS` words
 *    ("Answer: Paris"), a leading yes/no ("No, because ..."), a bare choice letter ("(B) Paris"),
 *    or the number of a short answer (at most `SHORT_ANSWER_WORDS` words). "The answer is 391" and
 *    "The answer is 401" are close in wording and far apart in substance.
 * 3. Otherwise (prose): they agree when their word overlap (Jaccard over word sets, as in
 *    `lexical`) reaches `lexicalThreshold`, so paraphrases agree and a different claim does not.
 * An empty response agrees with nothing.
 */
import { extractAnswer, stripLeadingTags, type ExtractedAnswer } from './answer-extraction';
import { jaccard, LEXICAL_DEFAULT_THRESHOLD, wordSet } from './lexical';

/** A number is the answer's point only in a short answer; in long prose it may be incidental. */
export const SHORT_ANSWER_WORDS = 40;
/** A longer "the answer is ..." line is a sentence, compared by its words rather than verbatim. */
export const SHORT_FINAL_WORDS = 5;

interface Comparable {
  answer: ExtractedAnswer | null;
  explicit: boolean;
  words: ReadonlySet<string>;
}

function comparable(content: string): Comparable {
  const answer = extractAnswer(content);
  const words = wordSet(content);
  return { answer, explicit: answer !== null && isExplicit(answer, content), words };
}

function isExplicit(answer: ExtractedAnswer, content: string): boolean {
  switch (answer.kind) {
    case 'code':
    case 'json':
    case 'yes_no':
    case 'choice':
      return true;
    case 'final':
      return !answer.key.startsWith('text:') || answer.key.slice('text:'.length).split(' ').length <= SHORT_FINAL_WORDS;
    case 'number':
      return stripLeadingTags(content).trim().split(/\s+/).length <= SHORT_ANSWER_WORDS;
    case 'text':
      return false;
  }
}

function agree(a: Comparable, b: Comparable, lexicalThreshold: number): boolean {
  if (a.answer === null || b.answer === null) return false;
  if (a.answer.key === b.answer.key) return true;
  if (a.explicit && b.explicit) return false;
  return jaccard(a.words, b.words) >= lexicalThreshold;
}

/**
 * The response's short final answer when it carries one (rule 2's explicit answers: a number in a
 * short answer, a final-answer line that is a number, a choice, a yes/no, JSON or at most
 * `SHORT_FINAL_WORDS` words, a leading yes/no, a bare choice letter, code, JSON), else null:
 * what can be compared as a value rather than by wording.
 */
export function shortAnswer(content: string): ExtractedAnswer | null {
  const { answer, explicit } = comparable(content);
  return explicit ? answer : null;
}

/** Whether two response texts give the same answer (rules above). */
export function sameAnswer(a: string, b: string, lexicalThreshold = LEXICAL_DEFAULT_THRESHOLD): boolean {
  return agree(comparable(a), comparable(b), lexicalThreshold);
}

/** `sameAnswer` for every pair, symmetric; the diagonal is true unless the response is empty. */
export function agreementMatrix(contents: readonly string[], lexicalThreshold = LEXICAL_DEFAULT_THRESHOLD): boolean[][] {
  const items = contents.map(comparable);
  return items.map((a, i) => items.map((b, j) => (i === j ? a.answer !== null : agree(a, b, lexicalThreshold))));
}

/**
 * Pairs whose explicit answers differ (rule 2: both carry a final answer, code, JSON or a number
 * in a short answer, and they are not the same): they disagree however close their wording is.
 */
export function conflictMatrix(contents: readonly string[]): boolean[][] {
  const items = contents.map(comparable);
  return items.map((a, i) => items.map((b, j) => i !== j && a.explicit && b.explicit && a.answer!.key !== b.answer!.key));
}

/** Indexes that do not give the same answer as `chosen` (the rules above), in order. */
export function dissentersFrom(matrix: readonly (readonly boolean[])[], chosen: number): number[] {
  return matrix.flatMap((row, j) => (j !== chosen && !row[chosen] ? [j] : []));
}

/** Share of pairs that agree; 1 with fewer than two responses. */
export function pairwiseAgreement(matrix: readonly (readonly boolean[])[]): number {
  let agreeing = 0;
  let pairs = 0;
  for (let i = 0; i < matrix.length; i++) {
    for (let j = i + 1; j < matrix.length; j++) {
      pairs++;
      if (matrix[i]![j]) agreeing++;
    }
  }
  return pairs === 0 ? 1 : agreeing / pairs;
}
