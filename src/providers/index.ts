export * from './types';
export * from './errors';
export { callCostUsd } from './pricing';
export { buildConnectors, EMULATOR_API_KEY, type BuildConnectorsOptions, type BuiltConnectors } from './registry';
export { createOpenAIConnector, mapOpenAIFinishReason, type OpenAIConnectorOptions } from './openai';
export { createAnthropicConnector, mapAnthropicStopReason } from './anthropic';
export { createGoogleConnector, mapGoogleFinishReason } from './google';
export type { ConnectorSettings } from './shared';
