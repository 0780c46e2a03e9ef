/**
 * Judge consensus (optional, off by default): one model, `consensus.strategies.judge: { provider,
 * model }`, reads the question and the anonymous, numbered candidates and answers with strict
 * JSON: `{ "choice": n, "ranking": [...], "reasons": "..." }`. The answer is parsed with zod and
 * checked (choice among the candidates, ranking a permutation of them that starts with the
 * choice); anything else is a `JudgeError`, never a silent fallback to another rule.
 *
 * - `chosenIndex` = the judge's choice; `details` record its ranking, reasons and usage.
 * - `dissenting` = responses that do not give the chosen answer (`agreement.ts`: the same
 *   normalized answer, or for prose, word overlap at the lexical threshold).
 * - `confidence` = the share of responses that give the chosen answer; `agreement` = the share of
 *   pairs of responses that agree; `thresholdMet` = confidence >= `context.threshold`
 *   (`consensus.strategies.judge.threshold`, default 0.6).
 * - One response: chosen without calling the judge.
 *
 * The judge is one more model call per consensus, so early stop never stops before the last
 * response for it (`early-stop.ts`): a late candidate may be the one it prefers.
 */
import { z } from 'zod';
import type { JudgeSettings } from '../config/schema';
import type { ModelConnector } from '../providers/types';
import type { GenerateResponse } from '../types';
import { agreementMatrix, dissentersFrom, pairwiseAgreement } from './agreement';
import { stripLeadingTags } from './answer-extraction';
import type { ConsensusContext, ConsensusDecision, ConsensusStrategy, JudgeDetails } from './strategy';
import { traceProviderCall } from '../tracing/provider-span';

export interface JudgeOptions {
  /** Connector of the judge's provider; `connector.provider` is recorded with the verdict. */
  connector: ModelConnector;
  model: string;
  /** Output tokens for the verdict (default 512). */
  maxTokens?: number;
  /** Characters of each candidate shown to the judge (default 6000). */
  maxCandidateChars?: number;
  /** Per-call timeout in ms (default 60 000). */
  timeoutMs?: number;
}

export type JudgeErrorKind = 'call_failed' | 'unparseable' | 'invalid_verdict';

/** The judge could not be asked, or its answer is not a usable verdict. */
export class JudgeError extends Error {
  override readonly name = 'JudgeError';
  constructor(
    readonly kind: JudgeErrorKind,
    message: string,
    readonly judge: { provider: string; model: string },
    /** The start of the judge's answer (unparseable / invalid verdicts), for the log. */
    readonly answer: string | null = null,
    /** call_failed: whether the connector classified the failure as retryable. */
    readonly retryable = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The verdict as the judge writes it: candidates numbered from 1. */
export const JudgeVerdictSchema = z.object({
  choice: z.number().int().min(1),
  ranking: z.array(z.number().int().min(1)).min(1),
  reasons: z.string().trim().min(1),
});
export type JudgeVerdict = z.infer<typeof JudgeVerdictSchema>;

export const JUDGE_SYSTEM_PROMPT =
  'You are an impartial judge of answers written by other AI models. You reply with one JSON object and nothing else.';

/**
 * The judge's prompt: the task type, the question, the candidates (leading tags such as
 * `[emulator:model]` removed, so no candidate is identified by its provider) and the reply format.
 */
export function buildJudgePrompt(question: string, candidates: readonly string[], taskType: string, maxCandidateChars = 6000): string {
  const n = candidates.length;
  const blocks = candidates.map((text, i) => `<candidate n="${i + 1}">\n${fence(clip(stripLeadingTags(text).trim(), maxCandidateChars))}\n</candidate>`);
  return [
    `Task type: ${taskType}. Below are a question and ${n} anonymous candidate answers to it, numbered 1 to ${n}.`,
    'Choose the best candidate: correct first, then complete, then clear and concise. Several candidates may give the same answer; then choose the best-stated of them.',
    '',
    `<question>\n${fence(question.trim())}\n</question>`,
    '',
    ...blocks,
    '',
    'Reply with exactly one JSON object, no code fence and no other text, in this form:',
    `{"choice": <number of the best candidate>, "ranking": [<all ${n} candidate numbers, best first>], "reasons": "<one or two sentences>"}`,
  ].join('\n');
}

/**
 * The verdict in a judge's answer: the whole text, a fenced block, or the outermost `{...}`
 * parsed as JSON and checked against `n` candidates. Throws `JudgeError` (unparseable or
 * invalid_verdict). Returns 0-based indexes.
 */
export function parseJudgeVerdict(content: string, n: number, judge: { provider: string; model: string }): { choice: number; ranking: number[]; reasons: string } {
  const text = stripLeadingTags(content).trim();
  const excerpt = text.slice(0, 500);
  let json: unknown;
  let parsed = false;
  for (const candidate of jsonCandidates(text)) {
    try {
      json = JSON.parse(candidate) as unknown;
      parsed = true;
      break;
    } catch {
      // try the next span
    }
  }
  if (!parsed) throw new JudgeError('unparseable', `judge ${judge.provider}:${judge.model} did not answer with JSON: ${JSON.stringify(excerpt.slice(0, 200))}`, judge, excerpt);
  const verdict = JudgeVerdictSchema.safeParse(json);
  if (!verdict.success) {
    const issues = verdict.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new JudgeError('unparseable', `judge ${judge.provider}:${judge.model} answered JSON that is not a verdict (${issues})`, judge, excerpt);
  }
  const { choice, ranking, reasons } = verdict.data;
  const invalid = (why: string): JudgeError => new JudgeError('invalid_verdict', `judge ${judge.provider}:${judge.model} gave an invalid verdict for ${n} candidates: ${why}`, judge, excerpt);
  if (choice > n) throw invalid(`choice ${choice} is not a candidate`);
  const outside = ranking.filter((r) => r > n);
  if (outside.length > 0) throw invalid(`ranking names ${outside.join(', ')}, not candidates`);
  if (new Set(ranking).size !== ranking.length) throw invalid('ranking repeats a candidate');
  if (ranking.length !== n) throw invalid(`ranking has ${ranking.length} of the ${n} candidates`);
  if (ranking[0] !== choice) throw invalid(`ranking starts with ${ranking[0]}, not the choice ${choice}`);
  return { choice: choice - 1, ranking: ranking.map((r) => r - 1), reasons };
}

export class JudgeConsensus implements ConsensusStrategy {
  readonly name = 'judge';
  private readonly connector: ModelConnector;
  private readonly model: string;
  private readonly maxTokens: number;
  private readonly maxCandidateChars: number;
  private readonly timeoutMs: number;

  constructor(options: JudgeOptions) {
    this.connector = options.connector;
    this.model = options.model;
    this.maxTokens = options.maxTokens ?? 512;
    this.maxCandidateChars = options.maxCandidateChars ?? 6000;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** From `consensus.strategies.judge`, with the connector of its provider. */
  static fromSettings(settings: JudgeSettings, connector: ModelConnector): JudgeConsensus {
    return new JudgeConsensus({
      connector,
      model: settings.model,
      maxTokens: settings.max_tokens,
      maxCandidateChars: settings.max_candidate_chars,
      timeoutMs: settings.timeout * 1000,
    });
  }

  get judge(): { provider: string; model: string } {
    return { provider: this.connector.provider, model: this.model };
  }

  async findConsensus(responses: readonly GenerateResponse[], context: ConsensusContext): Promise<ConsensusDecision> {
    if (responses.length === 0) throw new Error('consensus needs at least one response');
    const n = responses.length;
    const matrix = agreementMatrix(responses.map((r) => r.content));
    let verdict: { choice: number; ranking: number[]; reasons: string };
    let usage: JudgeDetails['usage'] = { tokensIn: 0, tokensOut: 0, latencyMs: 0 };
    if (n === 1) {
      verdict = { choice: 0, ranking: [0], reasons: 'one candidate: the judge was not asked' };
    } else {
      const answer = await this.ask(responses, context);
      try {
        verdict = parseJudgeVerdict(answer.content, n, this.judge);
      } catch (err) {
        if (!(err instanceof JudgeError) || answer.finishReason !== 'length') throw err;
        const hint = `${err.message}; the answer was cut at ${this.maxTokens} tokens (raise consensus.strategies.judge.max_tokens)`;
        throw new JudgeError(err.kind, hint, this.judge, err.answer);
      }
      usage = { tokensIn: answer.tokensIn, tokensOut: answer.tokensOut, latencyMs: answer.latencyMs };
    }
    const dissenting = dissentersFrom(matrix, verdict.choice);
    const support = n - dissenting.length;
    const confidence = support / n;
    const details: JudgeDetails = { strategy: 'judge', judge: this.judge, choice: verdict.choice, ranking: verdict.ranking, reasons: verdict.reasons, support, usage };
    return {
      chosenIndex: verdict.choice,
      confidence: round(confidence),
      agreement: round(pairwiseAgreement(matrix)),
      dissenting,
      thresholdMet: confidence + 1e-9 >= context.threshold,
      details,
    };
  }

  /**
   * Without asking the judge: the share of responses that give the most common answer
   * (`agreement.ts`), i.e. the confidence the judge's decision would have if it chose that answer.
   */
  calculateConfidence(responses: readonly GenerateResponse[]): number {
    if (responses.length === 0) return 0;
    const matrix = agreementMatrix(responses.map((r) => r.content));
    const best = Math.max(...matrix.map((_, i) => responses.length - dissentersFrom(matrix, i).length));
    return round(best / responses.length);
  }

  private async ask(responses: readonly GenerateResponse[], context: ConsensusContext): Promise<GenerateResponse> {
    const prompt = buildJudgePrompt(
      context.prompt,
      responses.map((r) => r.content),
      context.taskType,
      this.maxCandidateChars,
    );
    let answer: GenerateResponse;
    try {
      answer = await traceProviderCall({ provider: this.connector.provider, kind: this.connector.kind, model: this.model, purpose: 'judge' }, () =>
        this.connector.generate({ model: this.model, prompt, systemPrompt: JUDGE_SYSTEM_PROMPT, temperature: 0, maxTokens: this.maxTokens }, { timeoutMs: this.timeoutMs }),
      );
    } catch (err) {
      // Connectors throw ProviderCallError, which says whether a retry may help.
      const retryable = err instanceof Error && 'retryable' in err && err.retryable === true;
      throw new JudgeError('call_failed', `judge ${this.judge.provider}:${this.model} could not be asked: ${(err as Error).message}`, this.judge, null, retryable, { cause: err });
    }
    return answer;
  }
}

/** Where a JSON verdict may sit in an answer: the whole text, fenced blocks, the outermost braces. */
function jsonCandidates(text: string): string[] {
  const out = [text];
  for (const m of text.matchAll(/```(?:json)?[^\n]*\n([\s\S]*?)```/g)) out.push((m[1] ?? '').trim());
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start >= 0 && end > start) out.push(text.slice(start, end + 1));
  return out;
}

/** Keeps a candidate from closing its own block early. */
function fence(text: string): string {
  return text.replace(/<\/(candidate|question)/gi, '< /$1');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[... cut: ${text.length - max} more characters]`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
