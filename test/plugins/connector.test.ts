/**
 * The boundary around plugin parts, no services: a plugin connector's answers are completed and
 * checked and its failures classified like a built-in connector's (src/plugins/connector.ts); a
 * plugin routing strategy may only reorder a route's candidates (src/routing/strategies.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import { createPluginConnector } from '../../src/plugins/connector';
import type { PluginConnectorFactory, PluginConnectorSettings } from '../../src/plugins/types';
import { buildConnectors } from '../../src/providers/registry';
import { applyRoutingStrategy, customStrategyName, type RoutingStrategy } from '../../src/routing/strategies';
import type { ProviderTarget, RoutePlan } from '../../src/types';
import { expectProviderFailure } from '../helpers/expect-provider-failure';

const settings: PluginConnectorSettings = { provider: 'acme', kind: 'acme_api', defaultModel: 'acme-1', models: [], apiKey: 'acme-SECRET-key-123' };

function connectorThat(generate: () => Promise<unknown>, extra: Record<string, unknown> = {}) {
  const factory: PluginConnectorFactory = () => ({ generate: generate as never, validateConnection: () => Promise.resolve(true), getSupportedModels: () => ['acme-1'], ...extra });
  return createPluginConnector(factory, settings, 'acme-plugin');
}


describe('plugin connectors', () => {
  it('provider and kind come from config; missing optional fields are filled in', async () => {
    const c = connectorThat(() => Promise.resolve({ content: 'hi', tokensIn: 1, tokensOut: 2, provider: 'someone-else' }));
    expect([c.provider, c.kind]).toEqual(['acme', 'acme_api']);
    expect(await c.generate({ model: 'acme-1', prompt: 'x' })).toMatchObject({ content: 'hi', provider: 'acme', model: 'acme-1', tokensIn: 1, tokensOut: 2, finishReason: 'stop', providerRequestId: null, confidence: null });
    expect(c.generateStream).toBeUndefined();
  });

  it('an answer of the wrong shape is a retryable ProviderMalformedResponse', async () => {
    const err = await expectProviderFailure(connectorThat(() => Promise.resolve({ text: 'hi' })).generate({ model: 'acme-1', prompt: 'x' }));
    expect(err).toMatchObject({ type: 'ProviderMalformedResponse', retryable: true, provider: 'acme' });
    expect(err.message).toMatch(/content: /);
  });

  it('whatever it throws is classified once: a network error, an unknown error, an abort, a ProviderCallError from another copy of the code', async () => {
    const network = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1 with acme-SECRET-key-123'), { code: 'ECONNREFUSED' });
    const refused = await expectProviderFailure(connectorThat(() => Promise.reject(network)).generate({ model: 'acme-1', prompt: 'x' }));
    expect(refused).toMatchObject({ type: 'ProviderConnectionError', retryable: true });
    expect(refused.message).not.toContain('acme-SECRET-key-123');
    expect(await expectProviderFailure(connectorThat(() => Promise.reject(new Error('boom'))).generate({ model: 'acme-1', prompt: 'x' }))).toMatchObject({ type: 'ProviderServerError', retryable: true });
    const controller = new AbortController();
    controller.abort();
    expect(await expectProviderFailure(connectorThat(() => Promise.reject(new Error('aborted'))).generate({ model: 'acme-1', prompt: 'x' }, { signal: controller.signal }))).toMatchObject({ type: 'ProviderAborted', retryable: false });
    // A plugin with its own copy of ProviderCallError: same name and type, not our class.
    const foreign = Object.assign(new Error('quota gone'), { name: 'ProviderCallError', type: 'ProviderRateLimited', retryable: false, status: 429, retryAfterMs: 5000 });
    expect(await expectProviderFailure(connectorThat(() => Promise.reject(foreign)).generate({ model: 'acme-1', prompt: 'x' }))).toMatchObject({ type: 'ProviderRateLimited', retryable: false, status: 429, retryAfterMs: 5000, provider: 'acme' });
  });

  it('a streaming connector streams through the same checks; validateConnection never throws', async () => {
    const c = createPluginConnector(
      () => ({
        generate: () => Promise.reject(new Error('unused')),
        generateStream: (_request, options) => {
          options.onDelta('par');
          options.onDelta('is');
          return Promise.resolve({ content: 'paris', provider: 'x', model: 'acme-1', tokensIn: 1, tokensOut: 1, latencyMs: 3, finishReason: 'stop', providerRequestId: null, confidence: null, firstTokenMs: 1 });
        },
        validateConnection: () => Promise.reject(new Error('down')),
        getSupportedModels: () => ['acme-1'],
      }),
      settings,
      'acme-plugin',
    );
    const deltas: string[] = [];
    expect(await c.generateStream!({ model: 'acme-1', prompt: 'x' }, { onDelta: (d) => deltas.push(d) })).toMatchObject({ content: 'paris', provider: 'acme', firstTokenMs: 1, latencyMs: 3 });
    expect(deltas).toEqual(['par', 'is']);
    expect(await c.validateConnection()).toBe(false);
  });

  it('a factory that throws or returns no connector fails the build, naming models.<name>.kind and the plugin', () => {
    const config = parseConfig({ models: { acme: { kind: 'acme_api', default_model: 'acme-1' } }, pricing: { 'acme-1': { input: 1, output: 1 } }, routing: { default_providers: ['acme'] } });
    const build = (factory: PluginConnectorFactory) => () => buildConnectors({ config, env: {}, pluginConnectors: new Map([['acme_api', { plugin: 'acme-plugin', factory }]]) });
    expect(build(() => {
      throw new Error('no base_url');
    })).toThrow(ConfigError);
    expect(build(() => {
      throw new Error('no base_url');
    })).toThrow(/models\.acme\.kind: plugin "acme-plugin": its "acme_api" connector for provider "acme" could not be created: no base_url/);
    expect(build(() => ({}) as never)).toThrow(/plugin "acme-plugin": its "acme_api" connector factory returned no connector/);
  });
});

const target = (provider: string): ProviderTarget => ({ provider, model: `${provider}-m`, timeoutMs: 1000, maxAttempts: 3, initialBackoffMs: 100 });
const plan = { targets: [target('a')], fallbacks: [target('b'), target('c')], complexity: 'simple', routingPolicyVersion: 7, routingDecision: null } as unknown as RoutePlan;
const input = { taskType: 'qa', stats: null, random: () => 0.5 };

describe('plugin routing strategies', () => {
  it('reorder the whole route: the first wave is refilled from the top, the rest become the fallbacks in order', async () => {
    let seen: unknown = null;
    const reverse: RoutingStrategy = {
      rank(i) {
        seen = { candidates: i.candidates.map((t) => t.provider), firstWave: i.firstWave, complexity: i.complexity, version: i.routingPolicyVersion };
        return [...i.candidates].reverse();
      },
    };
    const ranked = await applyRoutingStrategy('reverse', reverse, plan, input);
    expect(seen).toEqual({ candidates: ['a', 'b', 'c'], firstWave: 1, complexity: 'simple', version: 7 });
    expect(ranked.targets.map((t) => t.provider)).toEqual(['c']);
    expect(ranked.fallbacks.map((t) => t.provider)).toEqual(['b', 'a']);
  });

  it('anything but a reordering is refused, naming the strategy', async () => {
    const returning = (out: unknown): RoutingStrategy => ({ rank: () => out as ProviderTarget[] });
    await expect(applyRoutingStrategy('s', returning([target('a'), target('b')]), plan, input)).rejects.toThrow('routing strategy "s" left out c:c-m');
    await expect(applyRoutingStrategy('s', returning([target('a'), target('a'), target('b')]), plan, input)).rejects.toThrow('routing strategy "s" returned "a:a-m" twice');
    await expect(applyRoutingStrategy('s', returning([target('z')]), plan, input)).rejects.toThrow(/returned "z:z-m", which is not a candidate/);
    await expect(applyRoutingStrategy('s', returning('a'), plan, input)).rejects.toThrow('routing strategy "s" returned string, not a list of candidates');
  });

  it('routing.custom_strategies: the task type entry, else "*", else none', () => {
    const named = (custom: Record<string, string>) => ({ routing: { custom_strategies: custom } }) as never;
    expect(customStrategyName(named({ qa: 'x', '*': 'y' }), 'qa')).toBe('x');
    expect(customStrategyName(named({ qa: 'x', '*': 'y' }), 'other')).toBe('y');
    expect(customStrategyName(named({ qa: 'x' }), 'other')).toBeNull();
  });
});
