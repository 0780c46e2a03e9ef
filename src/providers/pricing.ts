import { ConfigError } from '../errors';
import type { Config, ProviderKind } from '../config/schema';

/**
 * Cost of one call in USD from per-million-token prices. A model without a price costs 0 only
 * for `openai_compatible` providers (local servers); for any other kind it is a config error.
 */
export function callCostUsd(pricing: Config['pricing'], model: string, tokensIn: number, tokensOut: number, kind?: ProviderKind): number {
  const price = pricing[model];
  if (!price) {
    if (kind === 'openai_compatible') return 0;
    throw new ConfigError(`no price for model "${model}": add it under pricing in the config`, [{ path: `pricing.${model}`, message: 'missing price' }]);
  }
  return (tokensIn * price.input + tokensOut * price.output) / 1_000_000;
}
