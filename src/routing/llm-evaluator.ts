/**
 * The optional LLM-based complexity evaluator (`routing.llm_evaluator`, off by default): a cheap
 * model reads the prompt and classifies it. Its answer must be strict JSON; when the call fails or
 * the answer does not parse, the request is not failed for it: the default evaluator decides, and
 * the features say so (`llmFailed: 1`), so the history shows which evaluator decided and why.
 */
import { z } from 'zod';
import type { Logger } from '../logger';
import type { ModelConnector } from '../providers/types';
import type { Complexity } from '../types';
import { DefaultComplexityEvaluator, type ComplexityAssessment, type ComplexityContext, type ComplexityEvaluator } from './complexity';
import { traceProviderCall } from '../tracing/provider-span';

export const CLASSIFIER_SYSTEM_PROMPT = [
  'You classify how hard a request is for a language model to answer well.',
  'simple: a fact, a definition, a short transformation. medium: a few steps, some reasoning or a short program.',
  'complex: multi-step reasoning, design, proofs, long or tricky code, domain expertise.',
  'Reply with JSON only, no prose: {"complexity": "simple" | "medium" | "complex", "score": <number from 0 to 1>}',
].join('\n');

const VerdictSchema = z.object({
  complexity: z.enum(['simple', 'medium', 'complex']),
  score: z.number().min(0).max(1),
});

/** The first JSON object in a reply (models wrap JSON in prose or code fences despite instructions). */
export function parseVerdict(text: string): { complexity: Complexity; score: number } | null {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return null;
  try {
    const parsed = VerdictSchema.safeParse(JSON.parse(text.slice(start, end + 1)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface LlmComplexityEvaluatorOptions {
  connector: ModelConnector;
  model: string;
  timeoutMs: number;
  /** Characters of the prompt shown to the classifier. */
  maxPromptChars?: number;
  /** Decides when the classifier cannot (default: DefaultComplexityEvaluator). */
  fallback?: ComplexityEvaluator;
  logger?: Pick<Logger, 'warn'>;
}

export class LlmComplexityEvaluator implements ComplexityEvaluator {
  private readonly fallback: ComplexityEvaluator;
  constructor(private readonly options: LlmComplexityEvaluatorOptions) {
    this.fallback = options.fallback ?? new DefaultComplexityEvaluator();
  }

  async evaluate(prompt: string, context: ComplexityContext): Promise<ComplexityAssessment> {
    const { connector, model, timeoutMs } = this.options;
    const shown = prompt.slice(0, this.options.maxPromptChars ?? 4000);
    let problem: string;
    try {
      const reply = await traceProviderCall({ provider: connector.provider, kind: connector.kind, model, purpose: 'complexity' }, () =>
        connector.generate({ model, systemPrompt: CLASSIFIER_SYSTEM_PROMPT, prompt: shown, temperature: 0, maxTokens: 60 }, { timeoutMs }),
      );
      const verdict = parseVerdict(reply.content);
      if (verdict) {
        return { complexity: verdict.complexity, score: verdict.score, features: { llm: 1, llmTokensIn: reply.tokensIn, llmTokensOut: reply.tokensOut } };
      }
      problem = `unparseable classifier reply: ${JSON.stringify(reply.content.slice(0, 200))}`;
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    this.options.logger?.warn({ provider: connector.provider, model, problem }, 'LLM complexity evaluator failed; the default evaluator decides');
    const decided = await this.fallback.evaluate(prompt, context);
    return { ...decided, features: { ...decided.features, llmFailed: 1 } };
  }
}
