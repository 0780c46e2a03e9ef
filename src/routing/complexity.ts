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

const REASONING = /\b(why|prove|derive|analy[sz]e|analysis|trade-?offs?|compare|optimi[sz]e|design|architect\w*|explain how|step[- ]by[- ]step|reason\w*|evaluate|strategy|debug|refactor|implications?)\b/gi;
const BUILD = /\b(write|implement|build|create|generate|function|class|module|script|test|parse\w*)\b/gi;
const DOMAIN = /\b(algorithm|complexity|concurren\w+|distributed|database|security|cryptograph\w+|compiler|kernel|legal|contract|compliance|financ\w+|statistic\w*|probabilit\w+|theorem|regression|latency|throughput|transaction|consisten\w+|collisions?)\b/gi;
const SIMPLE = /\b(what is|define|summari[sz]e|translate|extract|convert|name|simple|basic|quick)\b/gi;
const LONG_OUTPUT = /\b(comprehensive|detailed|in depth|thorough|essay|report|\d{3,}\s+words)\b/gi;

function count(re: RegExp, text: string): number {
  return text.match(re)?.length ?? 0;
}

/** Saturating map of a count to [0, 1): half at `half`. */
function saturate(x: number, half: number): number {
  return x / (x + half);
}

/** Feature weights; the score is their weighted sum, clipped to [0, 1]. */
const WEIGHTS = {
  words: 0.25,
  codeBlocks: 0.2,
  asks: 0.1,
  buildTerms: 0.2,
  reasoningTerms: 0.4,
  domainTerms: 0.15,
  longOutputTerms: 0.1,
  simpleTerms: -0.2,
} as const;

/**
 * Levels: complex at or above the threshold, medium at or above a third of it, else simple.
 */
export class DefaultComplexityEvaluator implements ComplexityEvaluator {
  evaluate(prompt: string, context: ComplexityContext): ComplexityAssessment {
    const fenced = count(/```/g, prompt);
    const features = {
      words: prompt.trim().split(/\s+/).filter(Boolean).length,
      codeBlocks: Math.floor(fenced / 2) + (fenced === 0 && /^( {4}|\t)\S/m.test(prompt) ? 1 : 0),
      asks: count(/\?/g, prompt) + count(/^\s*(\d+[.)]|[-*])\s+/gm, prompt),
      buildTerms: count(BUILD, prompt),
      reasoningTerms: count(REASONING, prompt),
      domainTerms: count(DOMAIN, prompt),
      longOutputTerms: count(LONG_OUTPUT, prompt),
      simpleTerms: count(SIMPLE, prompt),
    };
    const normalized = {
      words: saturate(features.words, 40),
      codeBlocks: saturate(features.codeBlocks, 1),
      asks: saturate(Math.max(features.asks - 1, 0), 2),
      buildTerms: saturate(features.buildTerms, 1),
      reasoningTerms: saturate(features.reasoningTerms, 1),
      domainTerms: saturate(features.domainTerms, 1),
      longOutputTerms: saturate(features.longOutputTerms, 1),
      simpleTerms: saturate(features.simpleTerms, 1),
    };
    const raw = (Object.keys(WEIGHTS) as (keyof typeof WEIGHTS)[]).reduce((sum, k) => sum + WEIGHTS[k] * normalized[k], 0);
    const score = Math.round(Math.min(1, Math.max(0, raw)) * 1000) / 1000;
    const complexity: Complexity = score >= context.threshold ? 'complex' : score >= context.threshold / 3 ? 'medium' : 'simple';
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
