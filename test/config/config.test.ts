import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { loadConfig, parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { repoConfig, testConfig } from '../helpers/config';
import { expectConfigError } from '../helpers/expect-config-error';

describe('config.yaml', () => {
  it('the repository config loads and is complete', () => {
    const config = repoConfig();
    expect(Object.keys(config.models)).toEqual(expect.arrayContaining(['openai', 'anthropic', 'google', 'local']));
    expect(config.routing.rules.length).toBeGreaterThan(0);
    // Every model that can be called has a price.
    for (const [, p] of Object.entries(config.models).filter(([, p]) => p.kind !== 'openai_compatible')) {
      for (const m of [p.default_model, ...p.models]) expect(config.pricing[m], m).toBeDefined();
    }
  });

  it('names the key path of a bad value', () => {
    const err = expectConfigError(() => testConfig({ routing: { default_providers: ['openai'], complexity_threshold: 3 } }));
    expect(err.issues.map((i) => i.path)).toContain('routing.complexity_threshold');
  });

  it('rejects unknown keys, unknown providers in rules, and models without a price', () => {
    const err = expectConfigError(() =>
      testConfig({
        routing: {
          default_providers: ['openai', 'mistral'],
          rules: [{ task_type: 'x', providers: ['openai:gpt-9'] }],
        },
      }),
    );
    const paths = err.issues.map((i) => i.path);
    expect(paths).toContain('routing.default_providers.1');
    expect(paths).toContain('routing.rules.0.providers.0');
    expect(err.message).toMatch(/unknown model "gpt-9"/);

    const unpriced = expectConfigError(() => parseConfig({ models: { openai: { kind: 'openai', default_model: 'gpt-x' } }, routing: { default_providers: ['openai'] } }));
    expect(unpriced.issues[0]?.path).toBe('pricing.gpt-x');
  });

  it('reports YAML syntax errors with a line, and a missing file clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'models:\n  openai: [unclosed\n');
    expect(() => loadConfig(bad)).toThrow(/not valid YAML/);
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/cannot read config file/);
  });

  it('validates the environment and never requires API keys', () => {
    expect(loadEnv({}).DATABASE_URL).toMatch(/^file:/);
    expect(() => loadEnv({ DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    expect(() => loadEnv({ TEMPORAL_TLS_CERT_PATH: '/a' })).toThrow(/set together/);
    expect(() => loadEnv({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});
