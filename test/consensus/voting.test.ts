import { describe, expect, it } from 'vitest';
import { canonicalNumber, defaultConsensusRegistry, extractAnswer, normalizeCode, VotingConsensus, type VotingDetails } from '../../src/consensus';
import { response } from './helpers';

const ctx = { taskType: 'qa', prompt: 'What is 17 * 23?', threshold: 0.6 };

describe('extractAnswer', () => {
  it.each([
    ['[emulator:gpt-4o-mini] Short answer: the answer is 391.', 'num:391'],
    ['Having looked at the question, the answer is 391.', 'num:391'],
    ['The answer is 391. That is the gist of it.', 'num:391'],
    ['17 * 23 = 391, so the final answer is 3.5.', 'num:3.5'],
    ['Let me think.\nStep 1: 17*20 = 340\nStep 2: 17*3 = 51\nAnswer: 391', 'num:391'],
    ['**Final answer:** $1,234.50', 'num:1234.5'],
    ['The total is \\boxed{42} apples', 'num:42'],
    ['Reasoning...\n#### 72', 'num:72'],
    ['I computed 340 + 51 and got 391', 'num:391'],
    ['Answer: Paris', 'text:paris'],
    ['The answer is the Eiffel Tower!', 'text:the eiffel tower'],
    ['Paris.', 'text:paris'],
  ])('%j -> %s', (content, key) => {
    expect(extractAnswer(content)?.key).toBe(key);
  });

  it('numbers compare by value; "gpt-4o" style tokens are not numbers', () => {
    expect(canonicalNumber('1,000.00')).toBe('1000');
    expect(canonicalNumber('-0')).toBe('0');
    expect(canonicalNumber('0.1')).toBe('0.1');
    expect(extractAnswer('[emulator:gpt-4o] no digits here')?.key).toBe('text:no digits here');
  });

  it('code blocks compare by content: comments and whitespace do not matter, code does', () => {
    const a = extractAnswer('Here you go:\n```js\nfunction add(a, b) {\n  // sum\n  return a + b;\n}\n```');
    const b = extractAnswer('```javascript\nfunction add(a,b){ /* adds */ return a+b; }\n```\nThis adds two numbers.');
    const c = extractAnswer('```js\nfunction add(a, b) {\n  return a - b;\n}\n```');
    expect(a?.kind).toBe('code');
    expect(a?.key).toBe(b?.key);
    expect(a?.key).not.toBe(c?.key);
  });

  it('comment syntax follows the language; strings keep comment-like text', () => {
    expect(normalizeCode('x = 1  # set x\nurl = "http://a#b"', 'python')).toBe('x=1 url="http://a#b"');
    expect(normalizeCode('SELECT 1 -- one\nFROM t', 'sql')).toBe('SELECT 1 FROM t');
    expect(normalizeCode('const u = "http://x"; // c', 'ts')).toBe('const u="http://x";');
  });

  it('JSON compares by value: key order and spacing do not matter', () => {
    const a = extractAnswer('```json\n{"name": "Ada", "tags": ["x", "y"], "age": 36}\n```');
    const b = extractAnswer('The result is {"age":36,"tags":["x","y"],"name":"Ada"} as requested');
    const c = extractAnswer('{"age": 37, "name": "Ada", "tags": ["x", "y"]}');
    expect(a?.kind).toBe('json');
    expect(a?.key).toBe(b?.key);
    expect(a?.key).not.toBe(c?.key);
  });

  it('an empty response has no answer', () => {
    expect(extractAnswer('   ')).toBeNull();
    expect(extractAnswer('[emulator:x] ')).toBeNull();
  });
});

describe('VotingConsensus', () => {
  it('numeric answers vote correctly, whatever the wording', () => {
    const d = new VotingConsensus().findConsensus(
      [
        response('openai', '[emulator:gpt-4o-mini] Here is what I find: the answer is 401.'),
        response('anthropic', '[emulator:claude-haiku-4-5] Having looked at the question, the answer is 391.'),
        response('google', '[emulator:gemini] The answer is 391. That is the gist of it.'),
      ],
      ctx,
    );
    expect(d.chosenIndex).toBe(1);
    expect(d.dissenting).toEqual([0]);
    expect(d.confidence).toBeCloseTo(2 / 3, 3);
    expect(d.agreement).toBeCloseTo(2 / 3, 3);
    expect(d.thresholdMet).toBe(true);
    const details = d.details as VotingDetails;
    expect(details.tally.map((g) => [g.key, g.count])).toEqual([
      ['num:391', 2],
      ['num:401', 1],
    ]);
  });

  it('code answers vote by normalized content', () => {
    const d = new VotingConsensus().findConsensus(
      [
        response('a', '```python\ndef add(a, b):\n    return a - b\n```'),
        response('b', '```python\ndef add(a, b):\n    # add them\n    return a + b\n```'),
        response('c', 'Sure:\n```py\ndef add(a,b):\n  return a+b  # done\n```'),
      ],
      ctx,
    );
    expect([1, 2]).toContain(d.chosenIndex);
    expect(d.dissenting).toEqual([0]);
  });

  it('JSON answers vote by value', () => {
    const d = new VotingConsensus().findConsensus(
      [response('a', '{"ok": true, "n": 2}'), response('b', '```json\n{ "n": 2, "ok": true }\n```'), response('c', '{"ok": false, "n": 2}')],
      ctx,
    );
    expect(d.chosenIndex).toBe(0);
    expect(d.dissenting).toEqual([2]);
  });

  describe('ties are broken by configuration', () => {
    const tied = [response('openai', 'The answer is 7.', 0.6), response('anthropic', 'The answer is 8.', 0.9), response('google', 'Answer: 9', 0.7)];

    it('highest_confidence (default): the answer whose voter is most confident', () => {
      const d = new VotingConsensus().findConsensus(tied, ctx);
      expect(d.chosenIndex).toBe(1);
      expect((d.details as VotingDetails).tieBreak).toEqual({ rule: 'highest_confidence', between: ['num:7', 'num:8', 'num:9'] });
      expect(d.thresholdMet).toBe(false);
    });

    it('prefer_order: the answer of the provider listed first', () => {
      const d = new VotingConsensus({ tieBreak: 'prefer_order', preferOrder: ['google', 'openai'] }).findConsensus(tied, ctx);
      expect(d.chosenIndex).toBe(2);
      expect((d.details as VotingDetails).tieBreak?.rule).toBe('prefer_order');
    });

    it('prefer_order matches provider:model before provider, and falls back to confidence for unlisted providers', () => {
      const exact = new VotingConsensus({ tieBreak: 'prefer_order', preferOrder: ['openai:gpt-x', 'anthropic'] });
      const withModel = [response('openai', 'Answer: 1', 0.1, 'gpt-x'), response('anthropic', 'Answer: 2', 0.9)];
      expect(exact.findConsensus(withModel, ctx).chosenIndex).toBe(0);
      const unlisted = new VotingConsensus({ tieBreak: 'prefer_order', preferOrder: ['mistral'] });
      expect(unlisted.findConsensus(tied, ctx).chosenIndex).toBe(1);
    });

    it('first: the answer given first', () => {
      expect(new VotingConsensus({ tieBreak: 'first' }).findConsensus(tied, ctx).chosenIndex).toBe(0);
    });

    it('from config.yaml settings, through the registry', () => {
      const registry = defaultConsensusRegistry({
        consensus: { strategies: { voting: { threshold: 0.5, weights: 'none', tie_break: 'prefer_order', prefer_order: ['google'] } } },
      });
      return expect(Promise.resolve(registry.get('voting').findConsensus(tied, ctx))).resolves.toMatchObject({ chosenIndex: 2 });
    });
  });

  it('weights: a confident pair outweighs a less confident pair; accuracy comes from the context', () => {
    const four = [
      response('a', 'The answer is 10.', 0.4),
      response('b', 'The answer is 10.', 0.5),
      response('c', 'The answer is 12.', 0.9),
      response('d', 'The answer is 12.', 0.8),
    ];
    expect(new VotingConsensus({ weights: 'confidence' }).findConsensus(four, ctx)).toMatchObject({ chosenIndex: 2, dissenting: [0, 1] });
    // Unweighted it is a tie, broken by the highest confidence: the same winner, flagged as a tie.
    expect((new VotingConsensus().findConsensus(four, ctx).details as VotingDetails).tieBreak).not.toBeNull();

    const accuracy = { 'a:a-m': 0.9, b: 0.9, c: 0.5, d: 0.5 };
    const d = new VotingConsensus({ weights: 'accuracy' }).findConsensus(four, { ...ctx, providerAccuracy: accuracy });
    expect(d.chosenIndex).toBe(1); // answer 10 wins; within it, the more confident response
    expect(d.dissenting).toEqual([2, 3]);
    expect(d.confidence).toBeCloseTo(1.8 / 2.8, 3);
    expect(d.agreement).toBe(0.5);
  });

  it('a response without confidence gets the mean of the others', () => {
    const d = new VotingConsensus({ weights: 'confidence' }).findConsensus(
      [response('a', 'Answer: 1', 0.9), response('b', 'Answer: 2', null), response('c', 'Answer: 2', 0.5)],
      ctx,
    );
    expect((d.details as VotingDetails).weights).toEqual([0.9, 0.7, 0.5]);
    expect(d.chosenIndex).toBe(2); // 0.7 + 0.5 > 0.9; within the group, the more confident one
  });

  it('empty responses abstain and count as dissenting', () => {
    const d = new VotingConsensus().findConsensus([response('a', ''), response('b', 'Answer: 5'), response('c', 'Answer: 5')], ctx);
    expect(d).toMatchObject({ chosenIndex: 1, dissenting: [0] });
    expect(d.confidence).toBeCloseTo(2 / 3, 3);
  });

  it('calculateConfidence is the winning vote share', () => {
    expect(new VotingConsensus().calculateConfidence([response('a', 'Answer: 1'), response('b', 'Answer: 1'), response('c', 'Answer: 1'), response('d', 'Answer: 2')])).toBe(0.75);
  });
});
