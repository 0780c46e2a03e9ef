/**
 * The checks a client makes before any workflow starts are the ones the worker's planning makes:
 * the consensus strategy (request's, task type's, default) against what the configuration declares,
 * and minProviders against the exact route when the complexity is given.
 */
import { describe, expect, it } from 'vitest';
import { defaultConsensusRegistry } from '../../src/consensus';
import { InvalidRequest } from '../../src/errors';
import { BUILT_IN_CONSENSUS_STRATEGIES, configuredConsensusStrategies, planRoute, validateRequest } from '../../src/routing/planner';
import { testConfig } from '../helpers/config';

const base = { prompt: 'hello', taskType: 'qa', userId: 'u1' };

describe('configuredConsensusStrategies', () => {
  it('lists the built-in strategies a worker registers, judge only when configured, and custom names declared under consensus.strategies', () => {
    expect([...BUILT_IN_CONSENSUS_STRATEGIES].sort()).toEqual(defaultConsensusRegistry().names().sort());
    const plain = testConfig();
    expect(configuredConsensusStrategies(plain)).not.toContain('judge');
    const withJudge = testConfig({ consensus: { strategies: { judge: { provider: 'openai', model: 'gpt-4o' }, ml_based: {} } } });
    expect(configuredConsensusStrategies(withJudge)).toEqual(expect.arrayContaining(['lexical', 'similarity', 'voting', 'confidence', 'judge', 'ml_based']));
  });
});

describe('validateRequest with the configured consensus strategies', () => {
  const config = testConfig({ consensus: { default_strategy: 'similarity', task_types: { math: 'voting', odd: 'no_such_default' } } });
  const options = { consensusStrategies: configuredConsensusStrategies(config) };

  it('refuses an unknown strategy on the request, naming the field and the known ones', () => {
    const err = (() => {
      try {
        validateRequest(config, { ...base, consensusStrategy: 'no_such_strategy' }, options);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidRequest);
    expect((err as InvalidRequest).message).toMatch(/^consensusStrategy: unknown consensus strategy "no_such_strategy" \(registered: lexical, similarity, voting, confidence\)$/);
  });

  it('refuses judge unless it is configured, and takes it when it is', () => {
    expect(() => validateRequest(config, { ...base, consensusStrategy: 'judge' }, options)).toThrow(InvalidRequest);
    const judged = testConfig({ consensus: { strategies: { judge: { provider: 'openai', model: 'gpt-4o' } } } });
    expect(validateRequest(judged, { ...base, consensusStrategy: 'judge' }, { consensusStrategies: configuredConsensusStrategies(judged) }).consensusStrategy).toBe('judge');
  });

  it('checks the strategy the request would get from the task type when it names none', () => {
    expect(() => validateRequest(config, { ...base, taskType: 'odd' }, options)).toThrow(/consensus\.task_types\.odd: unknown consensus strategy "no_such_default"/);
    expect(validateRequest(config, { ...base, taskType: 'math' }, options).taskType).toBe('math');
  });

  it('leaves the strategy to the worker when no names are given (its registry may hold strategies registered in code)', () => {
    expect(validateRequest(config, { ...base, consensusStrategy: 'registered_in_code' }).consensusStrategy).toBe('registered_in_code');
  });
});

describe('validateRequest: minProviders against the exact route when the complexity is given', () => {
  const config = testConfig({
    routing: {
      default_providers: ['openai', 'anthropic', 'google'],
      rules: [
        { id: 'code-simple', task_type: 'code_generation', complexity: 'simple', providers: ['anthropic'] },
        { id: 'code-complex', task_type: 'code_generation', complexity: 'complex', providers: ['openai', 'anthropic', 'google'] },
      ],
    },
  });
  const request = { ...base, taskType: 'code_generation', minProviders: 2, complexityOverride: 'simple' as const };

  it('refuses what planning would refuse for that complexity', () => {
    // The planner refuses this plan; the validation must refuse it first.
    const valid = validateRequest(config, { ...request, complexityOverride: 'complex' });
    expect(() => planRoute({ config, request: { ...valid, complexityOverride: 'simple' }, assessment: { complexity: 'simple', score: 0, features: {} }, complexitySource: 'override', routingPolicyVersion: 1 })).toThrow(InvalidRequest);
    expect(() => validateRequest(config, request)).toThrow(/minProviders 2 exceeds the 1 provider\(s\) available to task type "code_generation" at complexity simple/);
  });

  it('without a complexity, accepts what the largest route of the task type can serve', () => {
    expect(validateRequest(config, { ...request, complexityOverride: undefined }).minProviders).toBe(2);
  });
});
