/**
 * Complexity evaluation: the product description's `ComplexityEvaluator`, behind a registry
 * keyed by task type. The default evaluator scores features a reader can check by eye and
 * returns them with the score, so every decision is explainable from the workflow history.
 */
import type { Complexity } from '../types';

export interface ComplexityAssessment {
  complexity: Complexity;
  /** In [0, 1]. */
  score: number;
  /** Named, explainable inputs to the score. */
  features: Record<string, number>;
}

export interface ComplexityContext {
  taskType: string;
  /** `routing.complexity_threshold`: scores at or above it are complex. */
  threshold: number;
}

export interface ComplexityEvaluator {
  evaluate(prompt: string, context: ComplexityContext): ComplexityAssessment | Promise<ComplexityAssessment>;
}

const REASONING = /\b(why|prove|derive|analy[sz]e|analysis|trade-?offs?|compare|optimi[sz]e|design|architect\w*|explain how|step[- ]by[- ]step|reason|evaluate|strategy|debug|refactor)\b/gi;
const DOMAIN = /\b(algorithm|complexity|concurren\w+|distributed|database|security|cryptograph\w+|compiler|kernel|legal|contract|compliance|financ\w+|statistic\w*|probabilit\w+|theorem|regression|latency|throughput|transaction)\b/gi;
const SIMPLE = /\b(what is|define|list|summari[sz]e|translate|extract|convert|name|simple|basic|quick)\b/gi;
const LONG_OUTPUT = /\b(comprehensive|detailed|in depth|thorough|full|complete|essay|report|\d{3,}\s+words)\b/gi;

function count(re: RegExp, text: string): number {
  return text.match(re)?.length ?? 0;
}

/** Saturating map of a count to [0, 1]. */
function saturate(x: number, half: number): number {
  return x / (x + half);
}

export class DefaultComplexityEvaluator implements ComplexityEvaluator {
  evaluate(prompt: string, context: ComplexityContext): ComplexityAssessment {
    const words = prompt.trim().split(/\s+/).filter(Boolean).length;
    const codeBlocks = Math.floor(count(/```/g, prompt) / 2) + (/^( {4}|\t)\S/m.test(prompt) ? 1 : 0);
    const asks = count(/\?/g, prompt) + count(/^\s*(\d+[.)]|[-*])\s+/gm, prompt);
    const reasoning = count(REASONING, prompt);
    const domain = count(DOMAIN, prompt);
    const simple = count(SIMPLE, prompt);
    const longOutput = count(LONG_OUTPUT, prompt);

    const features = {
      words,
      codeBlocks,
      asks,
      reasoningTerms: reasoning,
      domainTerms: domain,
      simpleTerms: simple,
      longOutputTerms: longOutput,
    };
    const raw =
      0.25 * saturate(words, 120) +
      0.15 * saturate(codeBlocks, 1) +
      0.1 * saturate(Math.max(asks - 1, 0), 2) +
      0.25 * saturate(reasoning, 1.5) +
      0.15 * saturate(domain, 1.5) +
      0.1 * saturate(longOutput, 1) -
      0.15 * saturate(simple, 1);
    const score = Math.round(Math.min(1, Math.max(0, raw)) * 1000) / 1000;
    const complexity: Complexity = score >= context.threshold ? 'complex' : score >= context.threshold / 2 ? 'medium' : 'simple';
    return { complexity, score, features };
  }
}

/** Evaluators per task type, with a default for task types without one. */
export class ComplexityEvaluatorRegistry {
  private readonly byTaskType = new Map<string, ComplexityEvaluator>();
  constructor(private readonly fallback: ComplexityEvaluator = new DefaultComplexityEvaluator()) {}

  register(taskType: string, evaluator: ComplexityEvaluator): void {
    this.byTaskType.set(taskType, evaluator);
  }

  get(taskType: string): ComplexityEvaluator {
    return this.byTaskType.get(taskType) ?? this.fallback;
  }

  async evaluate(prompt: string, context: ComplexityContext): Promise<ComplexityAssessment> {
    return this.get(context.taskType).evaluate(prompt, context);
  }
}
