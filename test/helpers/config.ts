import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load';
import type { Config, ConfigInput } from '../../src/config/schema';

export const REPO_ROOT = join(__dirname, '..', '..');

/** The repository's own config.yaml. */
export function repoConfig(): Config {
  return loadConfig(join(REPO_ROOT, 'config.yaml'));
}

/** A small config for tests; override any part. */
export function testConfig(overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    models: {
      openai: { kind: 'openai', default_model: 'gpt-4o-mini', models: ['gpt-4o'], api_key_env: 'OPENAI_API_KEY' },
      anthropic: { kind: 'anthropic', default_model: 'claude-haiku-4-5', api_key_env: 'ANTHROPIC_API_KEY' },
      google: { kind: 'google', default_model: 'gemini-2.0-flash', api_key_env: 'GOOGLE_API_KEY' },
    },
    pricing: {
      'gpt-4o-mini': { input: 0.15, output: 0.6 },
      'gpt-4o': { input: 2.5, output: 10 },
      'claude-haiku-4-5': { input: 0.8, output: 4 },
      'gemini-2.0-flash': { input: 0.1, output: 0.4 },
    },
    routing: { default_providers: ['openai', 'anthropic', 'google'] },
    ...overrides,
  });
}
