/**
 * config.yaml as the base of the routing policy: what a base change says (describeBaseChange) and
 * how run-time changes are re-applied on a new base, with conflicts named (rebasePolicy).
 */
import { describe, expect, it } from 'vitest';
import {
  applyUpdate,
  baseFromConfig,
  baseOf,
  describeBaseChange,
  describeLayers,
  knownProvidersFromConfig,
  policyFromConfig,
  rebasePolicy,
  sameBase,
  type RoutingBase,
  type RoutingPolicy,
  type RoutingUpdate,
} from '../../src/routing/policy';
import { testConfig } from '../helpers/config';

const config = testConfig({
  routing: {
    default_providers: ['openai', 'anthropic'],
    rules: [
      { id: 'review-any', task_type: 'code_review', complexity: 'any', providers: ['openai', 'anthropic'], require_consensus: true },
      { task_type: 'summarization', providers: ['google'] },
    ],
  },
});
const known = knownProvidersFromConfig(config);
const at = '2026-01-01T00:00:00.000Z';
const seed: RoutingPolicy = { ...policyFromConfig(config, at), version: 1 };
const oldBase = baseOf(seed);
const who = { source: 'cli:alice', reason: 'test' };

function apply(policy: RoutingPolicy, ...updates: RoutingUpdate[]): RoutingPolicy {
  for (const u of updates) {
    const r = applyUpdate(policy, u, known, at);
    if (!r.ok) throw new Error(r.error.message);
    policy = r.policy;
  }
  return policy;
}

function edit(change: (b: RoutingBase) => RoutingBase): RoutingBase {
  return change(structuredClone(oldBase));
}

const rebase = (policy: RoutingPolicy, newBase: RoutingBase, k = known) => rebasePolicy({ policy, oldBase, newBase, known: k, at, source: 'config.yaml', reason: 'r' });

describe('describeBaseChange', () => {
  it('names added, changed and removed rules and a changed default route, and nothing for the same base', () => {
    const next = edit((b) => ({
      ...b,
      rules: [{ ...b.rules[0]!, providers: ['google'] }, { id: 'translation-any', task_type: 'translation', complexity: 'any', providers: ['google'], require_consensus: false, fallback: [] }],
      defaultProviders: ['google'],
    }));
    expect(describeBaseChange(oldBase, next)).toEqual(['rule ~review-any', 'rule +translation-any', 'rule -summarization:any', 'default_providers openai,anthropic -> google']);
    expect(describeBaseChange(oldBase, baseFromConfig(config))).toEqual([]);
    // A rule written without an id equals the same rule with its derived id.
    const withIds = edit((b) => ({ ...b, rules: b.rules.map((r) => ({ ...r, id: r.id ?? `${r.task_type}:${r.complexity}` })) }));
    expect(sameBase(oldBase, withIds)).toBe(true);
  });

  it('only the routing fields make the base: a base URL or prices do not change it', () => {
    const other = testConfig({
      routing: config.routing,
      models: { ...config.models, openai: { ...config.models['openai']!, base_url: 'http://127.0.0.1:9/v1' } },
    });
    expect(sameBase(baseFromConfig(other), oldBase)).toBe(true);
  });
});

describe('rebasePolicy', () => {
  it('keeps run-time changes that config.yaml did not touch, on top of the new base', () => {
    const runtime = apply(
      seed,
      { kind: 'demote', target: 'openai', ...who },
      { kind: 'set_rule', rule: { id: 'qa-simple', task_type: 'question_answering', complexity: 'simple', providers: ['google'] }, ...who },
      { kind: 'set_weights', weights: { google: 2 }, ...who },
      { kind: 'set_strategy', strategy: 'performance_based', ...who },
    );
    const newBase = edit((b) => ({ ...b, rules: [...b.rules, { id: 'translation-any', task_type: 'translation', complexity: 'any', providers: ['google'], require_consensus: false, fallback: [] }], defaultProviders: ['google'] }));
    const { policy, kept, conflicts } = rebase(runtime, newBase);
    expect(conflicts).toEqual([]);
    expect(policy.rules.map((r) => r.id ?? `${r.task_type}:${r.complexity}`)).toEqual(['review-any', 'summarization:any', 'translation-any', 'qa-simple']);
    expect(policy).toMatchObject({ defaultProviders: ['google'], strategy: 'performance_based', weights: { google: 2 }, version: runtime.version + 1, basedOn: runtime.version, source: 'config.yaml' });
    expect(Object.keys(policy.demoted)).toEqual(['openai']);
    expect(kept).toEqual(['strategy performance_based', 'rule +qa-simple', 'weight google=2', 'demoted openai']);
    expect(describeLayers(newBase, policy)).toEqual(kept);
  });

  it('a run-time rule that config.yaml changed, removed or now defines itself is a conflict by name; config.yaml wins', () => {
    const runtime = apply(
      seed,
      { kind: 'set_rule', rule: { id: 'review-any', task_type: 'code_review', providers: ['google'] }, ...who },
      { kind: 'set_rule', rule: { id: 'translation-any', task_type: 'translation', providers: ['openai'] }, ...who },
      { kind: 'remove_rule', ruleId: 'summarization:any', ...who },
    );
    const newBase = edit((b) => ({
      ...b,
      rules: [
        { ...b.rules[0]!, providers: ['anthropic'] },
        { ...b.rules[1]!, providers: ['anthropic'] },
        { id: 'translation-any', task_type: 'translation', complexity: 'any', providers: ['google'], require_consensus: false, fallback: [] },
      ],
    }));
    const { policy, conflicts } = rebase(runtime, newBase);
    expect(conflicts.map((c) => [c.item, c.kind])).toEqual([
      ['rule summarization:any', 'remove_rule'],
      ['rule review-any', 'set_rule'],
      ['rule translation-any', 'set_rule'],
    ]);
    expect(conflicts[1]!.message).toMatch(/config\.yaml changed this rule/);
    expect(conflicts[2]!.message).toMatch(/config\.yaml now defines a rule with this id/);
    expect(policy.rules).toEqual(newBase.rules);
  });

  it('a run-time rule for the same task type and complexity as a new config.yaml rule is a conflict; an untouched one replaces the base rule again', () => {
    const runtime = apply(seed, { kind: 'set_rule', rule: { id: 'cheap-summaries', task_type: 'summarization', providers: ['anthropic'] }, ...who });
    expect(runtime.rules.map((r) => r.id ?? r.task_type)).toEqual(['review-any', 'cheap-summaries']);
    // config.yaml adds an unrelated rule: the run-time replacement of summarization:any stays.
    const unrelated = edit((b) => ({ ...b, rules: [...b.rules, { id: 'x', task_type: 'x', complexity: 'any', providers: ['google'], require_consensus: false, fallback: [] }] }));
    const kept = rebase(runtime, unrelated);
    expect(kept.conflicts).toEqual([]);
    expect(kept.policy.rules.map((r) => r.id ?? r.task_type)).toEqual(['review-any', 'cheap-summaries', 'x']);
    // config.yaml changes the rule it replaced: config.yaml wins.
    const changed = edit((b) => ({ ...b, rules: [b.rules[0]!, { ...b.rules[1]!, providers: ['openai'] }] }));
    const clash = rebase(runtime, changed);
    expect(clash.conflicts.map((c) => c.item)).toEqual(['rule cheap-summaries']);
    expect(clash.conflicts[0]!.message).toMatch(/config\.yaml's rule summarization:any/);
    expect(clash.policy.rules).toEqual(changed.rules);
  });

  it('a demotion or weight of a provider no longer configured is dropped and named; a strategy both changed is config.yaml\'s', () => {
    const runtime = apply(seed, { kind: 'demote', target: 'google', ...who }, { kind: 'set_weights', weights: { 'google:gemini-2.0-flash': 3 }, ...who }, { kind: 'set_strategy', strategy: 'performance_based', ...who });
    const withoutGoogle = Object.fromEntries(Object.entries(known).map(([k, v]) => [k, k === 'google' ? { ...v, enabled: false } : v]));
    const newBase = edit((b) => ({ ...b, rules: [b.rules[0]!], strategy: 'static' }));
    // Strategy: the old base was static too, so the run-time performance_based stays.
    const one = rebase(runtime, newBase, withoutGoogle);
    expect(one.conflicts.map((c) => [c.item, c.kind, c.source])).toEqual([
      ['weight google:gemini-2.0-flash', 'set_weights', null],
      ['demotion google', 'demote', 'cli:alice'],
    ]);
    expect(one.conflicts[1]!.issues[0]).toMatchObject({ code: 'DisabledProvider' });
    expect(one.policy).toMatchObject({ demoted: {}, weights: {}, strategy: 'performance_based' });

    const staticSeed = { ...seed, strategy: 'static' as const };
    const both = rebasePolicy({ policy: { ...runtime, strategy: 'performance_based' }, oldBase: baseOf(staticSeed), newBase: { ...baseOf(staticSeed), strategy: 'performance_based' }, known, at, source: 'config.yaml', reason: 'r' });
    expect(both.conflicts).toEqual([]); // config.yaml caught up with the run-time change
  });
});
