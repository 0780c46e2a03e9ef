import { describe, expect, it } from 'vitest';
import { InvalidRequest, ModelProviderNotFound } from '../../src/errors';
import { matchRule, planRoute, validateRequest } from '../../src/routing/planner';
import type { Complexity, RoutePlan } from '../../src/types';
import { testConfig } from '../helpers/config';

const config = testConfig({
  routing: {
    default_providers: ['openai', 'anthropic', 'google'],
    rules: [
      { id: 'code-any', task_type: 'code_generation', complexity: 'any', providers: ['anthropic'] },
      { id: 'code-complex', task_type: 'code_generation', complexity: 'complex', providers: ['openai', 'anthropic', 'google'], require_consensus: true, min_providers: 2, fallback: ['openai:gpt-4o'] },
      { id: 'code-complex-later', task_type: 'code_generation', complexity: 'complex', providers: ['google'] },
    ],
  },
  performance: { models: { openai: { timeout: 15, max_attempts: 4 } } },
});

function plan(request: Record<string, unknown>, complexity: Complexity = 'medium') {
  const valid = validateRequest(config, { prompt: 'hello', taskType: 'code_generation', userId: 'u1', ...request });
  return planRoute({ config, request: valid, assessment: { complexity, score: 0.5, features: {} }, complexitySource: 'evaluator', routingPolicyVersion: 3 });
}

describe('rule precedence', () => {
  it('exact complexity beats any; the earlier of two equal rules wins', () => {
    expect(matchRule(config.routing.rules, 'code_generation', 'complex')?.rule.id).toBe('code-complex');
    expect(matchRule(config.routing.rules, 'code_generation', 'simple')?.rule.id).toBe('code-any');
    expect(matchRule(config.routing.rules, 'translation', 'simple')).toBeNull();
  });
});

describe('planRoute', () => {
  it('complex code: consensus across the three rule providers, fallback chain kept, per-provider call policy', () => {
    const p = plan({}, 'complex');
    expect(p.ruleId).toBe('code-complex');
    expect(p.requireConsensus).toBe(true);
    expect(p.minProviders).toBe(2);
    expect(p.targets.map((t) => `${t.provider}:${t.model}`)).toEqual(['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5', 'google:gemini-2.0-flash']);
    expect(p.fallbacks.map((t) => `${t.provider}:${t.model}`)).toEqual(['openai:gpt-4o']);
    expect(p.targets[0]).toMatchObject({ timeoutMs: 15_000, maxAttempts: 4 });
    expect(p.routingPolicyVersion).toBe(3);
  });

  it('a task type without a rule takes the default route: one provider, the rest kept for failover', () => {
    const valid = validateRequest(config, { prompt: 'hi', taskType: 'translation', userId: 'u1' });
    const p = planRoute({ config, request: valid, assessment: { complexity: 'simple', score: 0.1, features: {} }, complexitySource: 'evaluator', routingPolicyVersion: 1 });
    expect(p.ruleId).toBeNull();
    expect(p.requireConsensus).toBe(false);
    expect(p.targets.map((t) => t.provider)).toEqual(['openai']);
    expect(p.fallbacks.map((t) => t.provider)).toEqual(['anthropic', 'google']);
  });

  it('requireConsensus on the request calls every route provider and needs two answers', () => {
    const valid = validateRequest(config, { prompt: 'hi', taskType: 'translation', userId: 'u1', requireConsensus: true });
    const p = planRoute({ config, request: valid, assessment: { complexity: 'simple', score: 0.1, features: {} }, complexitySource: 'evaluator', routingPolicyVersion: 1 });
    expect(p.targets).toHaveLength(3);
    expect(p.minProviders).toBe(2);
  });

  it('explicit providers win over rules', () => {
    const p = plan({ providers: ['google', 'openai:gpt-4o'], minProviders: 2 }, 'complex');
    expect(p.ruleId).toBe('request.providers');
    expect(p.targets.map((t) => `${t.provider}:${t.model}`)).toEqual(['google:gemini-2.0-flash', 'openai:gpt-4o']);
    expect(p.fallbacks).toEqual([]);
  });

  it('minProviders above the route size is refused', () => {
    expect(() => plan({ minProviders: 2 }, 'simple')).toThrow(InvalidRequest);
  });
});

describe('provider-call mode (performance.provider_calls, a rule\'s provider_calls)', () => {
  const rules = [
    { id: 'fast', task_type: 'chat', providers: ['openai'], provider_calls: 'local' as const },
    { id: 'durable', task_type: 'billing', providers: ['anthropic'], provider_calls: 'activity' as const },
    { id: 'unset', task_type: 'summary', providers: ['google'] },
  ];
  function modeOf(defaults: 'activity' | 'local' | undefined, request: Record<string, unknown>): RoutePlan['providerCalls'] {
    const cfg = testConfig({ routing: { default_providers: ['openai', 'anthropic'], rules }, performance: defaults === undefined ? {} : { provider_calls: defaults } });
    const valid = validateRequest(cfg, { prompt: 'hello', userId: 'u1', ...request });
    return planRoute({ config: cfg, request: valid, assessment: { complexity: 'simple', score: 0.1, features: {} }, complexitySource: 'evaluator', routingPolicyVersion: 1 }).providerCalls;
  }

  it('activity unless configured otherwise', () => {
    expect(testConfig().performance.provider_calls).toBe('activity');
    expect(modeOf(undefined, { taskType: 'translation' })).toBe('activity');
    expect(modeOf(undefined, { taskType: 'summary' })).toBe('activity');
  });

  it('the default applies to the default route and to rules that do not set their own', () => {
    expect(modeOf('local', { taskType: 'translation' })).toBe('local');
    expect(modeOf('local', { taskType: 'summary' })).toBe('local');
  });

  it("a rule's own mode wins over the default, either way", () => {
    expect(modeOf('activity', { taskType: 'chat' })).toBe('local');
    expect(modeOf('local', { taskType: 'billing' })).toBe('activity');
  });

  it('providers named by the request take the default, not the mode of a rule they bypass', () => {
    expect(modeOf('activity', { taskType: 'chat', providers: ['openai'] })).toBe('activity');
    expect(modeOf('local', { taskType: 'billing', providers: ['anthropic'] })).toBe('local');
  });

  it('an unknown mode is refused naming the key', () => {
    expect(() => testConfig({ performance: { provider_calls: 'inline' as never } })).toThrow(/performance\.provider_calls/);
    expect(() => testConfig({ routing: { default_providers: ['openai'], rules: [{ task_type: 'chat', providers: ['openai'], provider_calls: 'fast' as never }] } })).toThrow(/routing\.rules\.0\.provider_calls/);
  });
});

describe('validateRequest', () => {
  const base = { prompt: 'hello', taskType: 'qa', userId: 'u1' };
  it.each([
    [{ ...base, prompt: '   ' }, /prompt is empty/],
    [{ ...base, prompt: 'x'.repeat(200_001) }, /longer than/],
    [{ ...base, minProviders: 0 }, /minProviders/],
    [{ ...base, temperature: 3 }, /temperature/],
    [{ ...base, taskType: 'Bad Type' }, /taskType/],
    [{ ...base, surprise: true }, /surprise/],
    [{ ...base, minProviders: 4 }, /exceeds the 3 provider/],
  ])('refuses bad input %#', (input, message) => {
    expect(() => validateRequest(config, input)).toThrow(InvalidRequest);
    expect(() => validateRequest(config, input)).toThrow(message);
  });

  it('refuses unknown providers and models with ModelProviderNotFound', () => {
    expect(() => validateRequest(config, { ...base, providers: ['mistral'] })).toThrow(ModelProviderNotFound);
    expect(() => validateRequest(config, { ...base, providers: ['openai:gpt-9'] })).toThrow(/unknown model "gpt-9"/);
  });
});
