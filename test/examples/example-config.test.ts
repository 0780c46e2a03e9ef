/**
 * The examples' pieces that need no services: rules applied on top of config.yaml (replace by id or
 * by task type and complexity, else append; validated like config.yaml), and the document evaluator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { businessAgentConfig } from '../../examples/business-agent/business-agent';
import { DocumentComplexityEvaluator } from '../../examples/business-agent/document-evaluator';
import { CODE_RULES, codeGeneratorConfig } from '../../examples/code-generator/code-generator';
import { configWithRules } from '../../examples/shared/config';
import { ConfigError } from '../../src/errors';
import { repoConfig } from '../helpers/config';

const CONFIG = join(__dirname, '..', '..', 'config.yaml');
const context = { taskType: 'document_analysis', threshold: 0.7 };

describe('configWithRules', () => {
  it('replaces config.yaml rules by id or by task type and complexity, keeps the others in place and appends new ones', () => {
    const base = repoConfig().routing.rules;
    const rules = codeGeneratorConfig().routing.rules;
    // codegen-simple and review-any replaced in place; codegen-complex untouched; two new rules last.
    expect(rules.map((r) => r.id)).toEqual([...base.map((r) => r.id), 'codegen-medium', 'testgen-any']);
    expect(rules.find((r) => r.id === 'codegen-simple')?.providers).toEqual(['openai']);
    expect(rules.find((r) => r.id === 'codegen-complex')).toEqual(base.find((r) => r.id === 'codegen-complex'));
    expect(rules.filter((r) => r.task_type === 'code_generation' && r.complexity === 'simple')).toHaveLength(1);
    expect(CODE_RULES.every((rule) => rules.some((r) => r.id === rule.id))).toBe(true);
    // A rule without an id replaces the one for the same task type and complexity.
    const replaced = configWithRules(CONFIG, [{ task_type: 'code_review', complexity: 'any', providers: ['google'] }]).routing.rules;
    expect(replaced.filter((r) => r.task_type === 'code_review').map((r) => r.providers)).toEqual([['google']]);
  });

  it('refuses a bad rule with a ConfigError naming it, like config.yaml', () => {
    let error: unknown;
    try {
      configWithRules(CONFIG, [{ id: 'bad', task_type: 'code_review', complexity: 'any', providers: ['nobody'] }]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const index = repoConfig().routing.rules.findIndex((r) => r.task_type === 'code_review');
    expect((error as ConfigError).message).toContain(`routing.rules.${index}.providers.0`);
    expect((error as ConfigError).message).toContain('nobody');
  });
});

describe('DocumentComplexityEvaluator', () => {
  const evaluator = new DocumentComplexityEvaluator();
  const documents = join(__dirname, '..', '..', 'examples', 'business-agent', 'documents');
  const wrap = (instruction: string, doc: string) => `${instruction}\n\n<document>\n${doc}\n</document>`;

  it('finds the contract complex and the memo simple, with the counts behind the score', () => {
    const contract = evaluator.evaluate(wrap('Summarize.', readFileSync(join(documents, 'supplier-agreement.md'), 'utf8')), context);
    const memo = evaluator.evaluate(wrap('Summarize.', readFileSync(join(documents, 'team-update.md'), 'utf8')), context);
    expect(contract.complexity).toBe('complex');
    expect(contract.score).toBeGreaterThanOrEqual(0.7);
    expect(contract.features).toMatchObject({ documentTagged: 1 });
    expect(contract.features['regulatedTerms']).toBeGreaterThan(10);
    expect(memo).toMatchObject({ complexity: 'simple', features: { regulatedTerms: 0, obligations: 0 } });
  });

  it('scores the document, not the instruction around it', () => {
    const doc = readFileSync(join(documents, 'team-update.md'), 'utf8');
    const plain = evaluator.evaluate(wrap('Summarize.', doc), context);
    const loaded = evaluator.evaluate(wrap('Review for GDPR compliance, liability, indemnification and audit breach penalties.', doc), context);
    expect(loaded).toEqual(plain);
    // Without the tags the whole prompt counts.
    expect(evaluator.evaluate('Review for GDPR compliance and liability.', context).features['regulatedTerms']).toBe(3);
  });

  it('is the evaluator the business agent configuration routes with: one rule per level', () => {
    const rules = businessAgentConfig().routing.rules.filter((r) => r.task_type === 'document_analysis');
    expect(rules.map((r) => r.complexity).sort()).toEqual(['complex', 'medium', 'simple']);
    expect(rules.every((r) => r.require_consensus)).toBe(true);
  });
});
