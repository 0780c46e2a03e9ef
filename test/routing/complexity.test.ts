import { describe, expect, it } from 'vitest';
import { ComplexityEvaluatorRegistry, DefaultComplexityEvaluator, type ComplexityEvaluator } from '../../src/routing/complexity';

const ctx = { taskType: 'general', threshold: 0.7 };
const evaluator = new DefaultComplexityEvaluator();

const labelled: [string, 'simple' | 'medium' | 'complex'][] = [
  ['What is the capital of France?', 'simple'],
  ['Translate "good morning" into Spanish.', 'simple'],
  ['List three primary colors.', 'simple'],
  ['Write a Python function that parses a CSV file with a header row and returns a list of dicts, handling quoted fields.', 'medium'],
  ['Explain how a hash map handles collisions and why its lookups are usually constant time.', 'medium'],
  [
    'Design a distributed rate limiter for a multi-region API gateway. Analyze the trade-offs between token bucket and sliding window, ' +
      'explain how you would keep counters consistent across regions with low latency, compare Redis-based and CRDT-based designs, ' +
      'and provide a detailed, comprehensive architecture with failure modes.\n```\ninterface Limiter { allow(key: string): boolean }\n```\n1. Requirements?\n2. Data model?\n3. Failure handling?',
    'complex',
  ],
  [
    'Optimize this database query for throughput and explain step by step why each index helps; evaluate the transaction isolation implications ' +
      'and derive the expected latency under concurrency.\n```sql\nSELECT * FROM orders o JOIN users u ON u.id = o.user_id WHERE o.created_at > now() - interval \'7 days\';\n```',
    'complex',
  ],
];

describe('DefaultComplexityEvaluator', () => {
  it.each(labelled)('labels %#: %s', (prompt, expected) => {
    expect(evaluator.evaluate(prompt, ctx).complexity).toBe(expected);
  });

  it('returns explainable features with a score in [0,1]', () => {
    const a = evaluator.evaluate(labelled[5]![0], ctx);
    expect(a.score).toBeGreaterThanOrEqual(0.7);
    expect(a.score).toBeLessThanOrEqual(1);
    expect(a.features['codeBlocks']).toBe(1);
    expect(a.features['reasoningTerms']).toBeGreaterThanOrEqual(3);
    expect(a.features['asks']).toBeGreaterThanOrEqual(3);
  });

  it('follows routing.complexity_threshold', () => {
    const prompt = labelled[3]![0];
    const score = evaluator.evaluate(prompt, ctx).score;
    expect(evaluator.evaluate(prompt, { ...ctx, threshold: score }).complexity).toBe('complex');
    // Medium starts at a third of the threshold.
    expect(evaluator.evaluate(prompt, { ...ctx, threshold: score * 3 }).complexity).toBe('medium');
    expect(evaluator.evaluate(prompt, { ...ctx, threshold: score * 3 + 0.01 }).complexity).toBe('simple');
  });
});

describe('ComplexityEvaluatorRegistry', () => {
  it('uses the evaluator registered for the task type, and the default otherwise', async () => {
    const registry = new ComplexityEvaluatorRegistry();
    const alwaysComplex: ComplexityEvaluator = { evaluate: () => ({ complexity: 'complex', score: 1, features: { custom: 1 } }) };
    registry.register('business_automation', alwaysComplex);
    expect((await registry.evaluate('What is 2+2?', { ...ctx, taskType: 'business_automation' })).complexity).toBe('complex');
    expect((await registry.evaluate('What is 2+2?', { ...ctx, taskType: 'other' })).complexity).toBe('simple');
  });
});
