import { describe, expect, it } from 'vitest';
import { matchRule, planRoute, validateRequest } from '../../src/routing/planner';
import {
  applyUpdate,
  configWithPolicy,
  knownProvidersFromConfig,
  policyFromConfig,
  policyFromStored,
  validatePolicy,
  type ApplyUpdateResult,
  type RoutingPolicy,
} from '../../src/routing/policy';
import { testConfig } from '../helpers/config';

const config = testConfig({
  models: {
    openai: { kind: 'openai', default_model: 'gpt-4o-mini', models: ['gpt-4o'], api_key_env: 'OPENAI_API_KEY' },
    anthropic: { kind: 'anthropic', default_model: 'claude-haiku-4-5', api_key_env: 'ANTHROPIC_API_KEY' },
    google: { kind: 'google', default_model: 'gemini-2.0-flash', api_key_env: 'GOOGLE_API_KEY' },
    local: { kind: 'openai_compatible', enabled: false, base_url: 'http://127.0.0.1:11434/v1', default_model: 'llama3.1' },
  },
  routing: {
    default_providers: ['openai', 'anthropic', 'google'],
    rules: [
      { id: 'code-any', task_type: 'code_generation', complexity: 'any', providers: ['anthropic'] },
      { id: 'code-complex', task_type: 'code_generation', complexity: 'complex', providers: ['openai', 'anthropic'], require_consensus: true, min_providers: 2, fallback: ['openai:gpt-4o'] },
      { task_type: 'code_review', complexity: 'simple', providers: ['google'] },
    ],
  },
});
const known = knownProvidersFromConfig(config);
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T01:00:00.000Z';
const base: RoutingPolicy = { ...policyFromConfig(config, T0), version: 3 };
const who = { source: 'test', reason: 'because' };

function accepted(result: ApplyUpdateResult): RoutingPolicy {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.error.message}`);
  expect(result.changed).toBe(true);
  return result.policy;
}

function rejected(result: ApplyUpdateResult) {
  if (result.ok) throw new Error('expected a rejection');
  return result.error;
}

describe('applyUpdate: set_rule and rule precedence', () => {
  it('a rule for an existing (task type, complexity) replaces it in place and wins there', () => {
    const next = accepted(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'code_generation', complexity: 'complex', providers: ['google'] }, ...who }, known, T1));
    expect(next.rules.map((r) => r.id)).toEqual(['code-any', 'code_generation:complex', undefined]);
    expect(matchRule(next.rules, 'code_generation', 'complex')?.rule.providers).toEqual(['google']);
    // The replaced rule is gone, not shadowed.
    expect(next.rules.filter((r) => r.task_type === 'code_generation' && r.complexity === 'complex')).toHaveLength(1);
    expect(next).toMatchObject({ version: 4, basedOn: 3, updatedAt: T1, source: 'test', reason: 'because' });
  });

  it('an exact-complexity rule added after an `any` rule still wins for its complexity; `any` keeps the rest', () => {
    const next = accepted(applyUpdate(base, { kind: 'set_rule', rule: { id: 'code-simple', task_type: 'code_generation', complexity: 'simple', providers: ['openai'] }, ...who }, known, T1));
    expect(next.rules.at(-1)?.id).toBe('code-simple');
    expect(matchRule(next.rules, 'code_generation', 'simple')?.rule.id).toBe('code-simple');
    expect(matchRule(next.rules, 'code_generation', 'medium')?.rule.id).toBe('code-any');
  });

  it('a rule with an existing id replaces that rule, also when it changes its scope, and removes any rule it now clashes with', () => {
    const next = accepted(applyUpdate(base, { kind: 'set_rule', rule: { id: 'code-any', task_type: 'code_generation', complexity: 'complex', providers: ['google'] }, ...who }, known, T1));
    expect(next.rules.map((r) => r.id)).toEqual(['code-any', undefined]);
    expect(matchRule(next.rules, 'code_generation', 'complex')?.rule.id).toBe('code-any');
    expect(matchRule(next.rules, 'code_generation', 'simple')).toBeNull();
  });

  it('fills the rule defaults as config.yaml does', () => {
    const next = accepted(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'translation', providers: ['google', 'openai:gpt-4o'] }, ...who }, known, T1));
    expect(next.rules.at(-1)).toEqual({ id: 'translation:any', task_type: 'translation', complexity: 'any', providers: ['google', 'openai:gpt-4o'], require_consensus: false, fallback: [] });
  });

  it('the same rule again changes nothing (no new version)', () => {
    const once = accepted(applyUpdate(base, { kind: 'set_rule', rule: { id: 'x', task_type: 'qa', providers: ['google'] }, ...who }, known, T1));
    const again = applyUpdate(once, { kind: 'set_rule', rule: { id: 'x', task_type: 'qa', providers: ['google'] }, ...who }, known, T1);
    expect(again).toMatchObject({ ok: true, changed: false });
    if (again.ok) expect(again.policy).toBe(once);
  });

  it('is pure: the input policy is not modified', () => {
    const before = JSON.stringify(base);
    applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'code_generation', complexity: 'complex', providers: ['google'] }, ...who }, known, T1);
    applyUpdate(base, { kind: 'demote', target: 'openai', ...who }, known, T1);
    applyUpdate(base, { kind: 'set_weights', weights: { google: 2 }, ...who }, known, T1);
    expect(JSON.stringify(base)).toBe(before);
  });
});

describe('applyUpdate: invalid updates are rejected with clear, typed errors', () => {
  it('unknown provider, named with the configured ones', () => {
    const e = rejected(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'qa', providers: ['openai', 'mistral'] }, ...who }, known, T1));
    expect(e.code).toBe('UnknownProvider');
    expect(e.issues).toEqual([{ path: 'rule.providers.1', code: 'UnknownProvider', message: 'unknown provider "mistral" (configured: openai, anthropic, google)' }]);
    expect(e.message).toBe('set_rule rejected: rule.providers.1: unknown provider "mistral" (configured: openai, anthropic, google)');
  });

  it('unknown model and disabled provider, each at its path', () => {
    const e = rejected(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'qa', providers: ['openai:gpt-9'], fallback: ['local'] }, ...who }, known, T1));
    expect(e.issues.map((i) => [i.path, i.code])).toEqual([
      ['rule.providers.0', 'UnknownModel'],
      ['rule.fallback.0', 'DisabledProvider'],
    ]);
    expect(e.issues[0]?.message).toMatch(/unknown model "gpt-9" for provider "openai" \(configured: gpt-4o-mini, gpt-4o\)/);
  });

  it('bad complexity', () => {
    const e = rejected(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'qa', complexity: 'hard', providers: ['openai'] }, ...who }, known, T1));
    expect(e.code).toBe('InvalidRule');
    expect(e.issues[0]?.path).toBe('rule.complexity');
    expect(e.message).toMatch(/^set_rule rejected: rule\.complexity: /);
  });

  it('min_providers above what the rule can reach', () => {
    const e = rejected(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'qa', providers: ['openai', 'openai'], min_providers: 2 }, ...who }, known, T1));
    expect(e).toMatchObject({ code: 'InvalidRule', issues: [{ path: 'rule.min_providers', message: 'min_providers 2 exceeds the 1 distinct providers and fallbacks of this rule' }] });
  });

  it('malformed updates: unknown kind, missing source or reason, out-of-range numbers, unknown fields', () => {
    expect(rejected(applyUpdate(base, { kind: 'explode', ...who }, known)).code).toBe('InvalidUpdate');
    expect(rejected(applyUpdate(base, { kind: 'demote', target: 'openai', reason: 'x' }, known)).issues[0]?.path).toBe('source');
    expect(rejected(applyUpdate(base, { kind: 'set_exploration', rate: 1.5, ...who }, known)).issues[0]?.path).toBe('rate');
    expect(rejected(applyUpdate(base, { kind: 'set_weights', weights: { openai: -1 }, ...who }, known)).code).toBe('InvalidUpdate');
    expect(rejected(applyUpdate(base, { kind: 'demote', target: 'openai', surprise: true, ...who }, known)).code).toBe('InvalidUpdate');
    expect(rejected(applyUpdate(base, null, known)).message).toMatch(/^update rejected/);
  });

  it('remove_rule of a rule that does not exist lists the ones that do', () => {
    const e = rejected(applyUpdate(base, { kind: 'remove_rule', ruleId: 'nope', ...who }, known));
    expect(e).toMatchObject({ code: 'UnknownRule', message: 'remove_rule rejected: ruleId: no rule "nope" (rules: code-any, code-complex, code_review:simple)' });
  });

  it('weights and demotions name known providers only', () => {
    expect(rejected(applyUpdate(base, { kind: 'set_weights', weights: { openai: 2, mistral: 1 }, ...who }, known)).issues).toEqual([
      { path: 'weights.mistral', code: 'UnknownProvider', message: 'unknown provider "mistral" (configured: openai, anthropic, google)' },
    ]);
    expect(rejected(applyUpdate(base, { kind: 'demote', target: 'anthropic:claude-opus', ...who }, known)).code).toBe('UnknownModel');
  });
});

describe('applyUpdate: weights, demotions, exploration, objective, strategy', () => {
  it('set_weights merges, 1 removes, replace drops the rest', () => {
    const a = accepted(applyUpdate(base, { kind: 'set_weights', weights: { openai: 2, 'google:gemini-2.0-flash': 0.5 }, ...who }, known, T1));
    expect(a.weights).toEqual({ openai: 2, 'google:gemini-2.0-flash': 0.5 });
    const b = accepted(applyUpdate(a, { kind: 'set_weights', weights: { openai: 1 }, ...who }, known, T1));
    expect(b.weights).toEqual({ 'google:gemini-2.0-flash': 0.5 });
    const c = accepted(applyUpdate(a, { kind: 'set_weights', weights: { anthropic: 3 }, replace: true, ...who }, known, T1));
    expect(c.weights).toEqual({ anthropic: 3 });
  });

  it('demote then promote; demoting twice or promoting the undemoted changes nothing', () => {
    const d = accepted(applyUpdate(base, { kind: 'demote', target: 'openai', source: 'optimizer', reason: 'error rate 40%' }, known, T1));
    expect(d.demoted).toEqual({ openai: { at: T1, source: 'optimizer', reason: 'error rate 40%' } });
    expect(applyUpdate(d, { kind: 'demote', target: 'openai', ...who }, known, T1)).toMatchObject({ ok: true, changed: false });
    expect(accepted(applyUpdate(d, { kind: 'promote', target: 'openai', ...who }, known, T1)).demoted).toEqual({});
    expect(applyUpdate(base, { kind: 'promote', target: 'google', ...who }, known, T1)).toMatchObject({ ok: true, changed: false });
  });

  it('exploration rate and method, objective, strategy', () => {
    const e = accepted(applyUpdate(base, { kind: 'set_exploration', rate: 0.25, method: 'ucb', ...who }, known, T1));
    expect([e.explorationRate, e.explorationMethod]).toEqual([0.25, 'ucb']);
    const o = accepted(applyUpdate(base, { kind: 'set_objective', objective: { kind: 'weighted', cost: 2 }, ...who }, known, T1));
    expect(o.objective).toEqual({ kind: 'weighted', quality: 1, success: 1, cost: 2, latency: 0.25 });
    expect(accepted(applyUpdate(base, { kind: 'set_strategy', strategy: 'performance_based', ...who }, known, T1)).strategy).toBe('performance_based');
  });
});

describe('reading a policy', () => {
  it('configWithPolicy: the policy rules replace config.yaml; demoted providers move to the end of the fallback chain', () => {
    let p = accepted(applyUpdate(base, { kind: 'set_rule', rule: { task_type: 'code_generation', complexity: 'complex', providers: ['openai', 'anthropic', 'google'], fallback: ['openai:gpt-4o'] }, ...who }, known, T1));
    p = accepted(applyUpdate(p, { kind: 'demote', target: 'anthropic', ...who }, known, T1));
    p = { ...p, version: 9 };
    const effective = configWithPolicy(config, p);
    const request = validateRequest(effective, { prompt: 'x', taskType: 'code_generation', userId: 'u' });
    const plan = planRoute({ config: effective, request, assessment: { complexity: 'complex', score: 1, features: {} }, complexitySource: 'evaluator', routingPolicyVersion: p.version });
    expect([...plan.targets, ...plan.fallbacks].map((t) => `${t.provider}:${t.model}`)).toEqual(['openai:gpt-4o-mini', 'google:gemini-2.0-flash', 'openai:gpt-4o', 'anthropic:claude-haiku-4-5']);
    expect(plan.routingPolicyVersion).toBe(9);
    // The default route is demoted the same way.
    expect(effective.routing.default_providers).toEqual(['openai', 'google']);
    expect(effective.routing.default_fallback).toEqual(['anthropic']);
  });

  it('validatePolicy flags a provider that is no longer configured', () => {
    const lessKnown = { ...known };
    delete lessKnown['google'];
    expect(validatePolicy(base, lessKnown).map((i) => i.path)).toEqual(['rules.2.providers.0', 'defaultProviders.2']);
  });

  it('policyFromStored reads both its own shape and the older worker-written shape', () => {
    const own = policyFromStored(5, { ...base, version: undefined }, { source: 's', reason: 'r', createdAt: T0 });
    expect(own).toEqual({ ...base, version: 5 });
    const legacy = policyFromStored(1, { strategy: 'static', default_providers: ['openai'], rules: [{ task_type: 'qa', providers: ['google'] }] }, { source: 'config.yaml', reason: 'loaded', createdAt: T0 });
    expect(legacy).toMatchObject({ version: 1, strategy: 'static', defaultProviders: ['openai'], defaultFallback: [], rules: [{ task_type: 'qa', complexity: 'any', providers: ['google'] }], source: 'config.yaml' });
    expect(policyFromStored(2, { nonsense: true }, { source: 's', reason: 'r', createdAt: T0 })).toBeNull();
  });
});
