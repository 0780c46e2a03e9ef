import { describe, expect, it } from 'vitest';
import { ConfidenceConsensus, type ConfidenceDetails } from '../../src/consensus';
import { response } from './helpers';

const ctx = { taskType: 'qa', prompt: 'What is 17 * 23?', threshold: 0.8 };
const strategy = new ConfidenceConsensus();

describe('ConfidenceConsensus', () => {
  it('picks the highest provider confidence when every response has one', () => {
    const d = strategy.findConsensus(
      [response('a', 'The answer is 391.', 0.82), response('b', 'The answer is 401.', 0.91), response('c', 'In brief, the answer is 391.', 0.88)],
      ctx,
    );
    expect(d.chosenIndex).toBe(1);
    expect(d.confidence).toBe(0.91);
    expect(d.thresholdMet).toBe(true);
    // Dissent is by answer: both 391s disagree with the chosen 401.
    expect(d.dissenting).toEqual([0, 2]);
    expect(d.agreement).toBeCloseTo(1 / 3, 3);
    expect((d.details as ConfidenceDetails).source).toBe('provider');
  });

  it('falls back to the engine estimate (agreement with the others) for all when any confidence is missing', () => {
    const d = strategy.findConsensus(
      [
        response('a', 'The capital of France is Paris.', 0.99),
        response('b', 'Paris is the capital of France.', null),
        response('c', 'Lyon is the largest city.', 0.5),
      ],
      ctx,
    );
    const details = d.details as ConfidenceDetails;
    expect(details.source).toBe('estimate');
    expect([0, 1]).toContain(d.chosenIndex);
    expect(details.scores[2]).toBeLessThan(details.scores[d.chosenIndex]!);
    expect(d.confidence).toBe(details.scores[d.chosenIndex]);
    expect(d.thresholdMet).toBe(false); // word overlap 0.5 < 0.8
  });

  it('ties go to the earlier response; one response has full confidence', () => {
    expect(strategy.findConsensus([response('a', 'x', 0.7), response('b', 'y', 0.7)], ctx).chosenIndex).toBe(0);
    expect(strategy.findConsensus([response('a', 'x')], ctx)).toMatchObject({ chosenIndex: 0, confidence: 1, dissenting: [] });
    expect(strategy.calculateConfidence([response('a', 'x', 0.3), response('b', 'y', 0.6)])).toBe(0.6);
  });
});
