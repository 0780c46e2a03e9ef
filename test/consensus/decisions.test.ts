/**
 * Every built-in strategy on the same fixed inputs, where the right answer is known: each fills
 * `thresholdMet` and `details`, keeps the decision's invariants, and names the right dissenters.
 * Needs the embedding model for `similarity` (`bash scripts/fetch-model.sh`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  agreementMatrix,
  type ConsensusDecision,
  type ConsensusStrategy,
  ConfidenceConsensus,
  EmbeddingModel,
  JudgeConsensus,
  LEXICAL_DEFAULT_THRESHOLD,
  LexicalConsensus,
  sameAnswer,
  SimilarityConsensus,
  VotingConsensus,
} from '../../src/consensus';
import type { ModelConnector } from '../../src/providers/types';
import type { GenerateRequest, GenerateResponse } from '../../src/types';
import { response } from './helpers';

/** A judge that chooses the candidate whose text contains `prefer` (the first one otherwise) and ranks the rest in order. */
function scriptedJudge(prefer: string): ModelConnector {
  return {
    provider: 'judgeco',
    kind: 'openai_compatible',
    generate(request: GenerateRequest): Promise<GenerateResponse> {
      const blocks = [...request.prompt.matchAll(/<candidate n="(\d+)">\n([\s\S]*?)\n<\/candidate>/g)].map((m) => ({ n: Number(m[1]), text: m[2] ?? '' }));
      const choice = blocks.find((b) => b.text.includes(prefer))?.n ?? 1;
      const ranking = [choice, ...blocks.map((b) => b.n).filter((n) => n !== choice)];
      const content = JSON.stringify({ choice, ranking, reasons: `contains "${prefer}"` });
      return Promise.resolve({ content, provider: 'judgeco', model: request.model, tokensIn: 1, tokensOut: 1, latencyMs: 1, finishReason: 'stop', providerRequestId: null, confidence: null });
    },
    validateConnection: () => Promise.resolve(true),
    getSupportedModels: () => ['judge-1'],
  };
}

interface Fixture {
  name: string;
  prompt: string;
  responses: GenerateResponse[];
  /** The answer the right choice contains (the judge is scripted to prefer it). */
  right: string;
  /** Indexes that must be dissenting. */
  dissenting: number[];
  /** Strategies that cannot judge this kind of input, and why. */
  skip?: Partial<Record<string, string>>;
}

const fixtures: Fixture[] = [
  {
    name: 'numeric answers vote by value',
    prompt: 'What is 17 * 23?',
    responses: [
      response('openai', '[emulator:gpt-4o-mini] Here is what I find: the answer is 401.', 0.55),
      response('anthropic', '[emulator:claude-haiku-4-5] Short answer: the answer is 391.', 0.9),
      response('google', '[emulator:gemini-2.0-flash] The answer is 391. That is the gist of it.', 0.85),
    ],
    right: '391',
    dissenting: [0],
  },
  {
    name: 'paraphrases agree',
    prompt: 'What is the capital of France?',
    responses: [
      response('a', 'Paris is the capital of France.', 0.9),
      response('b', 'The capital of France is Paris.', 0.8),
      response('c', "France's capital city is Paris.", 0.85),
    ],
    right: 'Paris',
    dissenting: [],
    skip: { voting: 'votes compare normalized answers; three differently worded sentences are three answers' },
  },
  {
    name: 'paraphrases with an explicit final answer agree, for voting too',
    prompt: 'What is the capital of France?',
    responses: [response('a', 'The answer is Paris.', 0.9), response('b', 'Answer: Paris', 0.8), response('c', 'The answer is Lyon.', 0.7)],
    right: 'Paris',
    dissenting: [2],
  },
  {
    name: 'an outlier is rejected',
    prompt: 'What is the capital of France?',
    responses: [
      response('a', 'Paris is the capital of France.', 0.9),
      response('b', 'Berlin is the capital of Germany.', 0.7),
      response('c', 'The capital of France is Paris.', 0.85),
      response('d', "France's capital city is Paris.", 0.8),
    ],
    right: 'Paris',
    dissenting: [1],
    skip: { voting: 'free prose: see "paraphrases agree"' },
  },
  {
    name: 'code answers compare by normalized content',
    prompt: 'Write add(a, b) in Python.',
    responses: [
      response('a', 'Here:\n```python\ndef add(a, b):\n    return a - b\n```', 0.6),
      response('b', '```python\ndef add(a, b):\n    # add them\n    return a + b\n```', 0.9),
      response('c', 'Sure:\n```py\ndef add(a,b):\n  return a+b  # done\n```', 0.8),
    ],
    right: 'a + b',
    dissenting: [0],
    skip: {
      lexical: 'word overlap ignores operators: a + b and a - b have the same words',
    },
  },
];

let model: EmbeddingModel;
beforeAll(async () => {
  model = await EmbeddingModel.load();
});

const thresholds: Record<string, number> = { lexical: LEXICAL_DEFAULT_THRESHOLD, similarity: 0.8, voting: 0.6, confidence: 0.8, judge: 0.6 };

function strategies(fixture: Fixture): ConsensusStrategy[] {
  return [
    new LexicalConsensus(),
    new SimilarityConsensus({ model }),
    new VotingConsensus(),
    new ConfidenceConsensus(),
    new JudgeConsensus({ connector: scriptedJudge(fixture.right), model: 'judge-1' }),
  ];
}

function expectInvariants(d: ConsensusDecision, name: string, n: number): void {
  expect(d.details?.strategy, 'details name the strategy').toBe(name);
  expect(typeof d.thresholdMet, 'thresholdMet is set').toBe('boolean');
  expect(d.chosenIndex).toBeGreaterThanOrEqual(0);
  expect(d.chosenIndex).toBeLessThan(n);
  expect(d.dissenting).not.toContain(d.chosenIndex);
  expect(d.dissenting).toEqual([...new Set(d.dissenting)].sort((a, b) => a - b));
  for (const x of [d.confidence, d.agreement]) {
    expect(x).toBeGreaterThanOrEqual(0);
    expect(x).toBeLessThanOrEqual(1);
  }
}

describe.each(fixtures)('every strategy: $name', (fixture) => {
  it.each(['lexical', 'similarity', 'voting', 'confidence', 'judge'])('%s', async (name) => {
    const strategy = strategies(fixture).find((s) => s.name === name)!;
    const d = await strategy.findConsensus(fixture.responses, { taskType: 'qa', prompt: fixture.prompt, threshold: thresholds[name]! });
    expectInvariants(d, name, fixture.responses.length);
    if (fixture.skip?.[name]) return; // a documented limit of the strategy, not a pass or fail of this fixture
    expect(d.dissenting).toEqual(fixture.dissenting);
    expect(fixture.responses[d.chosenIndex]!.content).toContain(fixture.right);
    // A clear majority backs the chosen answer in every fixture.
    expect(d.thresholdMet).toBe(name === 'confidence' ? d.confidence >= thresholds[name]! : true);
  });
});

describe('every strategy: when nothing agrees, the threshold is not met', () => {
  const apart = [response('a', 'The answer is 7.', 0.4), response('b', 'The answer is 8.', 0.5), response('c', 'The answer is 9.', 0.45)];
  it.each(['lexical', 'similarity', 'voting', 'confidence', 'judge'])('%s', async (name) => {
    const strategy = strategies({ name: '', prompt: '', responses: apart, right: '8', dissenting: [] }).find((s) => s.name === name)!;
    const threshold = name === 'lexical' ? 0.9 : name === 'similarity' ? 0.99 : thresholds[name]!;
    const d = await strategy.findConsensus(apart, { taskType: 'qa', prompt: 'Pick a number.', threshold });
    expectInvariants(d, name, 3);
    expect(d.thresholdMet).toBe(false);
    expect(d.dissenting).toHaveLength(2);
  });
});

describe('one response', () => {
  it.each(['lexical', 'similarity', 'voting', 'confidence', 'judge'])('%s: chosen, nobody dissents, details filled', async (name) => {
    const only = [response('a', 'The answer is 391.', 0.9)];
    const strategy = strategies({ name: '', prompt: '', responses: only, right: '391', dissenting: [] }).find((s) => s.name === name)!;
    const d = await strategy.findConsensus(only, { taskType: 'qa', prompt: 'What is 17 * 23?', threshold: thresholds[name]! });
    expectInvariants(d, name, 1);
    expect(d).toMatchObject({ chosenIndex: 0, dissenting: [] });
  });
});

describe('sameAnswer (who dissents, for confidence and judge)', () => {
  it.each([
    ['The answer is 391.', 'In brief, the answer is 391.', true, 'the same number'],
    ['The answer is 391.', 'The answer is 401.', false, 'different numbers in close wording'],
    ['I computed 340 + 51 and got 391', 'Answer: 391', true, 'a number in a short answer and a final answer'],
    ['Paris is the capital of France.', 'The capital of France is Paris.', true, 'paraphrased prose'],
    ['Paris is the capital of France.', 'Berlin is the capital of Germany.', false, 'a different claim'],
    ['```js\nreturn a + b; // sum\n```', '```js\nreturn a+b;\n```', true, 'the same code'],
    ['```js\nreturn a + b;\n```', '```js\nreturn a - b;\n```', false, 'different code'],
    ['{"a": 1, "b": 2}', 'Result: {"b":2,"a":1}', true, 'the same JSON'],
    ['', '', false, 'empty responses'],
    ['[emulator:x] Paris.', '[emulator:y] paris', true, 'tags and case'],
  ])('%j vs %j -> %s (%s)', (a, b, same) => {
    expect(sameAnswer(a, b)).toBe(same);
    expect(sameAnswer(b, a)).toBe(same);
  });

  it('incidental numbers in long prose do not decide: the words do', () => {
    const long = (n: number, tail: string): string =>
      `Durable execution keeps workflow state in an event history, so a worker crash loses nothing and the workflow resumes on another worker from the last recorded event; retries are policies, timers survive restarts, and activity results are recorded once. ${tail} In my experience this took ${n} days to adopt.`;
    expect(sameAnswer(long(3, 'That is the core idea.'), long(5, 'That is the main idea.'))).toBe(true);
  });

  it('agreementMatrix is symmetric, with an empty response agreeing with nothing, itself included', () => {
    const m = agreementMatrix(['Answer: 1', 'The answer is 1.', '']);
    expect(m).toEqual([
      [true, true, false],
      [true, true, false],
      [false, false, false],
    ]);
  });
});
