import { describe, expect, it } from 'vitest';
import { defaultConsensusRegistry, LEXICAL_DEFAULT_THRESHOLD, LexicalConsensus, type LexicalDetails } from '../../src/consensus';
import type { GenerateResponse } from '../../src/types';

function response(provider: string, content: string): GenerateResponse {
  return { content, provider, model: `${provider}-m`, tokensIn: 1, tokensOut: 1, latencyMs: 1, finishReason: 'stop', providerRequestId: null, confidence: null };
}

const ctx = { taskType: 'qa', prompt: 'What is 17 * 23?', threshold: LEXICAL_DEFAULT_THRESHOLD };

describe('LexicalConsensus', () => {
  const strategy = new LexicalConsensus();

  it('picks an answer the majority shares and names the outlier as dissenting', () => {
    const responses = [
      response('a', 'The answer is 391, because 17 times 23 equals 391.'),
      response('b', 'Roughly four hundred, I would estimate.'),
      response('c', 'The answer is 391 since 17 times 23 equals 391.'),
    ];
    const d = strategy.findConsensus(responses, ctx);
    expect([0, 2]).toContain(d.chosenIndex);
    expect(d.dissenting).toEqual([1]);
    // Two of three side with the chosen answer.
    expect(d.confidence).toBeCloseTo(2 / 3, 3);
  });

  it('full agreement gives confidence 1; total disagreement leaves the chosen answer alone', () => {
    const same = [response('a', 'Paris is the capital.'), response('b', 'Paris is the capital.')];
    expect(strategy.findConsensus(same, ctx)).toMatchObject({ confidence: 1, agreement: 1, dissenting: [] });
    const apart = [response('a', 'alpha beta'), response('b', 'gamma delta'), response('c', 'epsilon zeta')];
    const d = strategy.findConsensus(apart, ctx);
    expect(d.confidence).toBeCloseTo(1 / 3, 3);
    expect(d.dissenting).toHaveLength(2);
  });

  it('paraphrases with different openings still agree; a different number does not', () => {
    const d = strategy.findConsensus(
      [
        response('a', 'Here is what I find: the answer is 401.'),
        response('b', 'Having looked at the question, the answer is 391.'),
        response('c', 'In brief, the answer is 391.'),
      ],
      ctx,
    );
    expect([1, 2]).toContain(d.chosenIndex);
    expect(d.dissenting).toEqual([0]);
    // The two 391s score 0 against the 401, however close the wording.
    expect((d.details as LexicalDetails).matrix[0]).toEqual([1, 0, 0]);
    expect(d.thresholdMet).toBe(true);
  });

  it('an empty response agrees with nobody, another empty one included', () => {
    const d = strategy.findConsensus([response('a', ''), response('b', 'Paris is the capital.'), response('c', 'Paris is the capital.')], ctx);
    expect(d).toMatchObject({ chosenIndex: 1, dissenting: [0], thresholdMet: true });
    const empty = strategy.findConsensus([response('a', ''), response('b', '  ')], ctx);
    expect(empty).toMatchObject({ dissenting: [1], thresholdMet: false });
  });

  it('records the overlap matrix and the support of the chosen answer', () => {
    const d = strategy.findConsensus([response('a', 'alpha beta'), response('b', 'alpha beta'), response('c', 'gamma delta')], ctx);
    expect(d.details).toEqual({
      strategy: 'lexical',
      matrix: [
        [1, 1, 0],
        [1, 1, 0],
        [0, 0, 1],
      ],
      closeness: [0.5, 0.5, 0],
      support: 2,
    } satisfies LexicalDetails);
    expect(d.thresholdMet).toBe(true);
    expect(strategy.findConsensus([response('a', 'x')], ctx)).toMatchObject({ chosenIndex: 0, confidence: 1, thresholdMet: true, details: { support: 1 } });
  });

  it('ignores bracketed tags such as emulator markers when comparing', () => {
    const d = strategy.findConsensus([response('a', '[emulator:x] Paris.'), response('b', '[emulator:y] Paris.')], ctx);
    expect(d.agreement).toBe(1);
  });

  it('is registered by name, and unknown names are refused clearly', () => {
    const registry = defaultConsensusRegistry();
    expect(registry.get('lexical')).toBeInstanceOf(LexicalConsensus);
    expect(() => registry.get('ml_based')).toThrow(/unknown consensus strategy "ml_based"/);
  });
});
