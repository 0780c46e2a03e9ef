import { describe, expect, it } from 'vitest';
import type { ModelConnector } from '../../src/providers/types';
import { ProviderCallError } from '../../src/providers/errors';
import { CLASSIFIER_SYSTEM_PROMPT, LlmComplexityEvaluator, parseVerdict } from '../../src/routing/llm-evaluator';
import type { GenerateRequest } from '../../src/types';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';

function fakeConnector(reply: (req: GenerateRequest) => string | Error): ModelConnector & { seen: GenerateRequest[] } {
  const seen: GenerateRequest[] = [];
  return {
    provider: 'openai',
    kind: 'openai',
    seen,
    async generate(req) {
      seen.push(req);
      const r = reply(req);
      if (r instanceof Error) throw r;
      return { content: r, provider: 'openai', model: req.model, tokensIn: 50, tokensOut: 12, latencyMs: 5, finishReason: 'stop', providerRequestId: null, confidence: null };
    },
    async validateConnection() {
      return true;
    },
    getSupportedModels: () => ['gpt-4o-mini'],
  };
}

const ctx = { taskType: 'qa', threshold: 0.7 };

describe('LLM complexity evaluator', () => {
  it('asks the classifier with a fixed system prompt and takes its JSON verdict', async () => {
    const connector = fakeConnector(() => 'Sure! ```json\n{"complexity": "complex", "score": 0.82}\n```');
    const evaluator = new LlmComplexityEvaluator({ connector, model: 'gpt-4o-mini', timeoutMs: 1000 });
    const a = await evaluator.evaluate('What is 2 + 2?', ctx);
    expect(a).toEqual({ complexity: 'complex', score: 0.82, features: { llm: 1, llmTokensIn: 50, llmTokensOut: 12 } });
    expect(connector.seen[0]).toMatchObject({ model: 'gpt-4o-mini', systemPrompt: CLASSIFIER_SYSTEM_PROMPT, prompt: 'What is 2 + 2?', temperature: 0 });
  });

  it('lets the default evaluator decide, and says so, when the reply does not parse or the call fails', async () => {
    for (const reply of ['I think it is hard.', '{"complexity": "very hard", "score": 2}', new ProviderCallError({ type: 'ProviderServerError', status: 503, provider: 'openai', model: 'gpt-4o-mini', detail: 'down' })]) {
      const evaluator = new LlmComplexityEvaluator({ connector: fakeConnector(() => reply), model: 'gpt-4o-mini', timeoutMs: 1000 });
      const a = await evaluator.evaluate('What is 2 + 2?', ctx);
      expect(a.complexity).toBe('simple');
      expect(a.features['llmFailed']).toBe(1);
      expect(a.features['llm']).toBeUndefined();
    }
  });

  it('parses the first JSON object and rejects out-of-range verdicts', () => {
    expect(parseVerdict('{"complexity":"medium","score":0.4}')).toEqual({ complexity: 'medium', score: 0.4 });
    expect(parseVerdict('{"complexity":"medium","score":1.4}')).toBeNull();
    expect(parseVerdict('no json')).toBeNull();
  });

  it('is validated at load: an unknown provider is a ConfigError naming routing.llm_evaluator', () => {
    const err = (() => {
      try {
        parseConfig({ models: { openai: { kind: 'openai', default_model: 'gpt-4o-mini' } }, pricing: { 'gpt-4o-mini': { input: 1, output: 1 } }, routing: { default_providers: ['openai'], llm_evaluator: { enabled: true, provider: 'nope' } } });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toContainEqual(expect.objectContaining({ path: 'routing.llm_evaluator' }));
  });
});
