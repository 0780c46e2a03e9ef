import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { callCostUsd } from '../../src/providers/pricing';

const pricing = { 'gpt-4o-mini': { input: 0.15, output: 0.6 } };

describe('callCostUsd', () => {
  it('prices tokens per million', () => {
    expect(callCostUsd(pricing, 'gpt-4o-mini', 1000, 2000)).toBeCloseTo(0.00135, 12);
    expect(callCostUsd(pricing, 'gpt-4o-mini', 0, 0)).toBe(0);
  });

  it('costs 0 for an unpriced openai_compatible model and is a ConfigError otherwise', () => {
    expect(callCostUsd(pricing, 'llama3.1', 500, 500, 'openai_compatible')).toBe(0);
    expect(() => callCostUsd(pricing, 'gpt-5', 1, 1, 'openai')).toThrow(ConfigError);
    expect(() => callCostUsd(pricing, 'gpt-5', 1, 1)).toThrow(/pricing/);
  });
});
