import type { GenerateResponse } from '../../src/types';

/** A response as a connector would return it; only content, provider and confidence matter here. */
export function response(provider: string, content: string, confidence: number | null = null, model = `${provider}-m`): GenerateResponse {
  return { content, provider, model, tokensIn: 1, tokensOut: 1, latencyMs: 1, finishReason: 'stop', providerRequestId: null, confidence };
}
