import { describe, expect, it } from 'vitest';
import { ConfidenceConsensus, LexicalConsensus, VotingConsensus } from '../../src/consensus';
import { canStopEarly, earlyStopStatus } from '../../src/consensus/early-stop';
import { decideBySimilarity } from '../../src/consensus/similarity';
import { response } from './helpers';

const ctx = { taskType: 'qa', prompt: 'What is 17 * 23?', threshold: 0.6 };
const voting = new VotingConsensus();

describe('canStopEarly with votes: leader - second > outstanding', () => {
  it.each([
    // votes so far, answered, total, stop?
    [[2], 2, 3, true], // 2 vs 0, one outstanding: cannot be caught
    [[1, 1], 2, 3, false], // 1 vs 1: the last one decides
    [[1], 1, 3, false], // 1 vs 0, two outstanding: 0 + 2 > 1
    [[2], 2, 4, false], // 2 vs 0, two outstanding could tie it
    [[3], 3, 5, true], // 3 vs 0, two outstanding: 2 < 3
    [[2, 1], 3, 5, false], // 2 vs 1, two outstanding: 1 + 2 > 2
    [[3, 1], 4, 5, true], // 3 vs 1, one outstanding: 2 < 3
    [[1, 1, 1], 3, 3, true], // nothing outstanding: the outcome is final
  ])('votes %j, %i of %i answered -> %s', (votes, answered, total, stop) => {
    expect(canStopEarly({ votes }, answered, total)).toBe(stop);
  });

  it('weighted votes: an outstanding response adds at most maxVoteWeight', () => {
    expect(canStopEarly({ votes: [1.7, 0.5] }, 3, 4)).toBe(true); // 1.2 > 1
    expect(canStopEarly({ votes: [1.7, 0.5], maxVoteWeight: 2 }, 3, 4)).toBe(false);
    expect(earlyStopStatus({ votes: [1.7, 0.5] }, 3, 4)).toMatchObject({ rule: 'vote_margin', outstanding: 1 });
  });

  it('reads a voting decision as it arrives: two equal answers out of three stop it, two different ones do not', () => {
    const agree = voting.findConsensus([response('a', 'The answer is 391.'), response('b', 'In brief, the answer is 391.')], ctx);
    expect(canStopEarly(agree, 2, 3)).toBe(true);
    const split = voting.findConsensus([response('a', 'The answer is 391.'), response('b', 'The answer is 401.')], ctx);
    expect(canStopEarly(split, 2, 3)).toBe(false);
    const third = voting.findConsensus([response('a', 'The answer is 391.'), response('b', 'The answer is 401.'), response('c', 'Answer: 391')], ctx);
    expect(canStopEarly(third, 3, 3)).toBe(true);
  });

  it('an empty response abstains: it does not count for anyone', () => {
    const d = voting.findConsensus([response('a', 'Answer: 5'), response('b', '')], ctx);
    expect(canStopEarly(d, 2, 3)).toBe(false); // 1 vs 0 with one outstanding
  });
});

describe('canStopEarly with clusters (similarity, lexical): a strict majority of all called', () => {
  const agreeing = [
    [1, 0.95],
    [0.95, 1],
  ];
  it('similarity: 2 agreeing of 3 stop; 2 agreeing of 4 do not; 3 of 5 do', () => {
    expect(canStopEarly(decideBySimilarity(agreeing, 0.8), 2, 3)).toBe(true);
    expect(canStopEarly(decideBySimilarity(agreeing, 0.8), 2, 4)).toBe(false);
    const three = [
      [1, 0.9, 0.9, 0.1],
      [0.9, 1, 0.9, 0.1],
      [0.9, 0.9, 1, 0.1],
      [0.1, 0.1, 0.1, 1],
    ];
    expect(canStopEarly(decideBySimilarity(three, 0.8), 4, 5)).toBe(true);
    expect(earlyStopStatus(decideBySimilarity(three, 0.8), 4, 5)).toMatchObject({ rule: 'majority', margin: 1 });
  });

  it('similarity: two that disagree never stop early', () => {
    const apart = [
      [1, 0.3],
      [0.3, 1],
    ];
    expect(canStopEarly(decideBySimilarity(apart, 0.8), 2, 3)).toBe(false);
  });

  it('lexical: support = the responses within the threshold of the chosen one', () => {
    const d = new LexicalConsensus().findConsensus([response('a', 'Paris is the capital.'), response('b', 'Paris is the capital.')], { ...ctx, threshold: 0.25 });
    expect(canStopEarly(d, 2, 3)).toBe(true);
    expect(canStopEarly(d, 2, 5)).toBe(false);
  });

  it('confidence: never before the last response, which might be more confident', () => {
    const d = new ConfidenceConsensus().findConsensus([response('a', 'x', 0.99), response('b', 'x', 0.98)], ctx);
    expect(canStopEarly(d, 2, 3)).toBe(false);
    expect(canStopEarly(d, 3, 3)).toBe(true);
  });

  it('refuses impossible counts', () => {
    expect(() => canStopEarly({ votes: [1] }, 4, 3)).toThrow(RangeError);
    expect(() => canStopEarly({ votes: [1] }, 1, 0)).toThrow(RangeError);
  });
});
