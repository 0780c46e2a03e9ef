/**
 * Plugins in the gateway: with its in-process worker, a plugin given in code serves a provider kind
 * and a chat completion naming that provider answers through it, its complexity evaluator and
 * metrics collector are used; as a pure client (no worker), it
 * still loads the plugins, so a provider kind nobody provides stops its start with a ConfigError
 * naming models.<name>.kind.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env';
import type { Config } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { startGateway, type RunningGateway } from '../../src/gateway/start';
import { createLogger } from '../../src/logger';
import type { OrchestratorPlugin } from '../../src/plugins/types';
import { repoConfig } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { WORKFLOWS_PATH } from '../helpers/temporal';

const dir = mkdtempSync(join(tmpdir(), 'orch-plugin-gateway-'));
const gateways: RunningGateway[] = [];
afterAll(async () => {
  for (const g of gateways) await g.close();
  rmSync(dir, { recursive: true, force: true });
});

const calls: string[] = [];
const metricEvents: string[] = [];
const reverser: OrchestratorPlugin = {
  name: 'reverser',
  version: '3.0.0',
  complexityEvaluators: { plugin_eval: { evaluate: () => ({ complexity: 'medium', score: 0.42, features: { pluginRule: 1 } }) } },
  metricsCollectors: [{ name: 'reverser-collector', collect: (event) => void metricEvents.push(event.name) }],
  consensusStrategies: {
    'last-one': { name: 'last-one', findConsensus: (responses) => ({ chosenIndex: responses.length - 1, confidence: 0.95, agreement: 0.5, dissenting: [], thresholdMet: true }), calculateConfidence: () => 0.95 },
  },
  connectors: {
    reverse: (settings) => ({
      generate(request) {
        calls.push(settings.provider);
        return Promise.resolve({ content: [...request.prompt].reverse().join(''), tokensIn: 2, tokensOut: 2 });
      },
      validateConnection: () => Promise.resolve(true),
      getSupportedModels: () => [settings.defaultModel],
    }),
  },
};

function withReverseProvider(c: Config): Config {
  return {
    ...c,
    models: { ...c.models, backwards: { kind: 'reverse', enabled: true, default_model: 'rev-1', models: [], max_tokens: 64, temperature: 0, context_windows: {} } },
    pricing: { ...c.pricing, 'rev-1': { input: 0, output: 0 } },
    emulator: { ...c.emulator, mode: 'always', latency_ms: 5 },
  };
}

function env(label: string) {
  return loadEnv({ DATABASE_URL: `file:${join(dir, `${label}.db`)}`, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'warn', METRICS_PORT: '0' });
}

describe('plugins in the gateway', () => {
  it('with the in-process worker: a chat completion for the plugin provider answers through its connector', async () => {
    const taskQueue = `test-plugin-gateway-${randomUUID().slice(0, 8)}`;
    const gateway = await startGateway({
      env: env('in-process'),
      config: withReverseProvider(repoConfig()),
      logger: createLogger('warn', 'plugin-gateway'),
      taskQueue,
      port: 0,
      host: '127.0.0.1',
      plugins: [reverser],
      runtime: { secrets: {}, emulatorPort: 0, routingPolicyWorkflowId: `routing-policy-${taskQueue}` },
      workflowSource: { kind: 'sources', workflowsPath: WORKFLOWS_PATH, reason: 'test' },
      ensureSchedule: false,
      installLogger: false,
    });
    gateways.push(gateway);
    expect(gateway.worker?.runtime.plugins.map((p) => `${p.name}@${p.version}`)).toEqual(['reverser@3.0.0']);
    const { key } = await gateway.keys.create({ userId: 'plugin-gateway-user' });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'backwards', messages: [{ role: 'user', content: 'stressed' }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toBe('desserts');
    expect(calls).toEqual(['backwards']);

    // The plugin's complexity evaluator decides for its task type (in the planning activity); its collector got the metric events.
    const result = await gateway.orchestrator.processRequest({ prompt: 'level', taskType: 'plugin_eval', userId: 'plugin-gateway-user', providers: ['backwards'] });
    expect(result.response).toBe('level');
    expect([result.metadata.complexity, result.metadata.complexityScore]).toEqual(['medium', 0.42]);
    expect(metricEvents.length).toBeGreaterThan(0);

    // The gateway's client knows the plugin's consensus strategy (config.yaml does not declare it); it runs in the consensus activity.
    const agreed = await gateway.orchestrator.processRequest({ prompt: 'abc', taskType: 'general', userId: 'plugin-gateway-user', providers: ['openai', 'backwards'], requireConsensus: true, minProviders: 2, consensusStrategy: 'last-one' });
    expect(agreed.metadata.consensusStrategy).toBe('last-one');
    expect(agreed.metadata.consensusApplied).toBe(true);
  }, 120_000);

  it('as a pure client: a provider kind no plugin provides stops its start, naming models.<name>.kind', async () => {
    const err = await startGateway({
      env: env('pure'),
      config: withReverseProvider(repoConfig()),
      logger: createLogger('silent', 'plugin-gateway-pure'),
      worker: false,
      port: 0,
      host: '127.0.0.1',
    }).then(
      (g) => {
        gateways.push(g);
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'models.backwards.kind', message: 'unknown provider kind "reverse" (known: openai, anthropic, google, openai_compatible; a plugin may provide more)' }]);
  });
});
