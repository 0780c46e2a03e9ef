/**
 * A custom complexity evaluator for document analysis (the product description's
 * BusinessDocumentEvaluator). It scores the document, not the instruction around it: the text
 * between `<document>` and `</document>` when the prompt has them, else the whole prompt. Every
 * input of the score is returned as a named feature, so the decision can be read in the workflow
 * history (the planRequest local activity's result).
 */
import type { ComplexityAssessment, ComplexityContext, ComplexityEvaluator } from '../../src/routing/complexity';

const REGULATED = /\b(personal data|gdpr|hipaa|pci|sox|liabilit\w*|indemnif\w*|penalt\w*|terminat\w*|warrant\w*|confidential\w*|audit\w*|regulat\w*|complian\w*|breach\w*|jurisdiction|governing law|data protection|subprocessor\w*)\b/gi;
const OBLIGATIONS = /\b(shall|must|is required to|agrees? to|undertakes? to)\b/gi;
const AMOUNTS = /(?:[$€£]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars|euros)\b)/gi;
const DEADLINES = /\b(within \d+ (?:business |calendar )?(?:days|weeks|months)|no later than|by (?:january|february|march|april|may|june|july|august|september|october|november|december)|\d{4}-\d{2}-\d{2})\b/gi;
const SECTIONS = /^\s*(?:#{1,6}\s|\d+(?:\.\d+)*[.)]?\s+[A-Z]|§\s*\d|(?:article|section|clause)\s+\d)/gim;

/** Weights of the saturated features; their sum is the score (at most 1). */
const WEIGHTS = { words: 0.15, sections: 0.15, obligations: 0.2, regulatedTerms: 0.3, amounts: 0.1, deadlines: 0.1 } as const;
/** The count at which a feature gives half its weight. */
const HALF_AT = { words: 300, sections: 4, obligations: 3, regulatedTerms: 3, amounts: 2, deadlines: 2 } as const;

export class DocumentComplexityEvaluator implements ComplexityEvaluator {
  evaluate(prompt: string, context: ComplexityContext): ComplexityAssessment {
    const tagged = /<document>([\s\S]*?)<\/document>/i.exec(prompt);
    const document = tagged?.[1] ?? prompt;
    const counts = {
      words: document.split(/\s+/).filter(Boolean).length,
      sections: count(SECTIONS, document),
      obligations: count(OBLIGATIONS, document),
      regulatedTerms: count(REGULATED, document),
      amounts: count(AMOUNTS, document),
      deadlines: count(DEADLINES, document),
    };
    let raw = 0;
    for (const key of Object.keys(WEIGHTS) as (keyof typeof WEIGHTS)[]) raw += WEIGHTS[key] * (counts[key] / (counts[key] + HALF_AT[key]));
    const score = Math.round(Math.min(1, raw) * 1000) / 1000;
    // The same levels as the default evaluator: complex at routing.complexity_threshold, medium at a third of it.
    const complexity = score >= context.threshold ? 'complex' : score >= context.threshold / 3 ? 'medium' : 'simple';
    return { complexity, score, features: { ...counts, documentTagged: tagged ? 1 : 0 } };
  }
}

function count(re: RegExp, text: string): number {
  return text.match(re)?.length ?? 0;
}
