/**
 * Builds one connector per enabled provider. API keys are read from the environment here and go
 * only into SDK clients. Providers without a key are served by the local emulator according to
 * `emulator.mode`:
 *   always -> every openai/anthropic/google provider is emulated;
 *   auto   -> a provider whose `api_key_env` variable is unset or empty is emulated;
 *   never  -> a provider without a key is a ConfigError naming the variable.
 * `openai_compatible` providers are never emulated: they always use their base_url. Nor are
 * providers of a kind a plugin provides (src/plugins): their connector gets base_url and the key
 * when one is set, and calls its own endpoint.
 */
import { ConfigError } from '../errors';
import { supportedModels } from '../config/load';
import { BUILT_IN_PROVIDER_KINDS, type BuiltInProviderKind, type Config, type ProviderConfig } from '../config/schema';
import { createPluginConnector } from '../plugins/connector';
import type { PluginConnectorFactory } from '../plugins/types';
import type { ModelConnector } from './types';
import type { ConnectorSettings } from './shared';
import { createOpenAIConnector } from './openai';
import { createAnthropicConnector } from './anthropic';
import { createGoogleConnector } from './google';

export interface BuildConnectorsOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  /** Base URL of a running emulator (e.g. http://127.0.0.1:8390); required when any provider is emulated. */
  emulatorUrl?: string;
  /** Injected for tests. */
  fetch?: typeof fetch;
  /** Connector factories of the loaded plugins by provider kind (src/plugins/load.ts). */
  pluginConnectors?: ReadonlyMap<string, { plugin: string; factory: PluginConnectorFactory }>;
}

export interface BuiltConnectors {
  connectors: Map<string, ModelConnector>;
  /** Names of the providers answered by the emulator. */
  emulated: string[];
}

/** The key the emulator accepts; never a real credential. */
export const EMULATOR_API_KEY = 'emulator';

const FACTORIES: Record<BuiltInProviderKind, (settings: ConnectorSettings) => ModelConnector> = {
  openai: (s) => createOpenAIConnector({ ...s, kind: 'openai' }),
  openai_compatible: (s) => createOpenAIConnector({ ...s, kind: 'openai_compatible' }),
  anthropic: createAnthropicConnector,
  google: createGoogleConnector,
};

/** Where each SDK's paths start on the emulator (openai appends /chat/completions; anthropic /v1/messages; genai /v1beta/models/...). */
function emulatorBaseUrl(kind: Exclude<BuiltInProviderKind, 'openai_compatible'>, url: string): string {
  return kind === 'openai' ? `${url}/v1` : url;
}

export function buildConnectors(options: BuildConnectorsOptions): BuiltConnectors {
  const { config, env } = options;
  const emulatorUrl = options.emulatorUrl?.replace(/\/+$/, '');
  const connectors = new Map<string, ModelConnector>();
  const emulated: string[] = [];
  const issues: { path: string; message: string }[] = [];

  for (const [name, provider] of Object.entries(config.models)) {
    if (!provider.enabled) continue;
    const key = readKey(provider, env);
    const base: ConnectorSettings = {
      provider: name,
      defaultModel: provider.default_model,
      models: supportedModels(provider),
      maxTokens: provider.max_tokens,
      temperature: provider.temperature,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    };
    const { kind } = provider;
    if (!isBuiltInKind(kind)) {
      const plugin = options.pluginConnectors?.get(kind);
      if (!plugin) {
        const known = [...BUILT_IN_PROVIDER_KINDS, ...(options.pluginConnectors?.keys() ?? [])];
        issues.push({ path: `models.${name}.kind`, message: `unknown provider kind "${kind}" (known: ${known.join(', ')}; a plugin may provide more)` });
        continue;
      }
      try {
        connectors.set(name, createPluginConnector(plugin.factory, { ...base, kind, ...(provider.base_url && { baseUrl: provider.base_url }), ...(key && { apiKey: key }) }, plugin.plugin));
      } catch (err) {
        issues.push({ path: `models.${name}.kind`, message: (err as Error).message });
      }
      continue;
    }
    if (kind === 'openai_compatible') {
      connectors.set(name, FACTORIES[kind]({ ...base, ...(provider.base_url && { baseUrl: provider.base_url }), ...(key && { apiKey: key }) }));
      continue;
    }
    const emulate = config.emulator.mode === 'always' || (config.emulator.mode === 'auto' && key === undefined);
    if (!emulate) {
      if (key === undefined) {
        issues.push({ path: `models.${name}.api_key_env`, message: missingKeyMessage(name, provider) });
        continue;
      }
      connectors.set(name, FACTORIES[kind]({ ...base, apiKey: key, ...(provider.base_url && { baseUrl: provider.base_url }) }));
      continue;
    }
    if (emulatorUrl === undefined) {
      issues.push({
        path: `models.${name}`,
        message:
          `provider "${name}" is served by the emulator (emulator.mode=${config.emulator.mode}` +
          `${key === undefined ? `, ${provider.api_key_env ?? 'no api_key_env'} unset` : ''}) but no emulator URL was given: ` +
          'start one with `npm run emulator` and set EMULATOR_URL, or set the API key',
      });
      continue;
    }
    connectors.set(name, FACTORIES[kind]({ ...base, apiKey: EMULATOR_API_KEY, baseUrl: emulatorBaseUrl(kind, emulatorUrl) }));
    emulated.push(name);
  }

  if (issues.length > 0) {
    throw new ConfigError(`cannot build provider connectors:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);
  }
  return { connectors, emulated };
}

function isBuiltInKind(kind: string): kind is BuiltInProviderKind {
  return (BUILT_IN_PROVIDER_KINDS as readonly string[]).includes(kind);
}

function readKey(provider: ProviderConfig, env: NodeJS.ProcessEnv): string | undefined {
  const value = provider.api_key_env === undefined ? undefined : env[provider.api_key_env]?.trim();
  return value ? value : undefined;
}

function missingKeyMessage(name: string, provider: ProviderConfig): string {
  return provider.api_key_env === undefined
    ? `provider "${name}" has no api_key_env and emulator.mode is "never"`
    : `environment variable ${provider.api_key_env} is not set (provider "${name}", emulator.mode is "never")`;
}
