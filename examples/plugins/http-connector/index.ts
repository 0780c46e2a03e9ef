/**
 * The product description's custom model connector, as a plugin: a connector over a plain HTTP
 * API (no SDK) with generate, validateConnection and getSupportedModels. It provides the provider
 * kind `http_api`:
 *
 *   plugins:
 *     modules: [./examples/plugins/http-connector]
 *     http-connector:
 *       timeout_ms: 30000
 *   models:
 *     my-model-server:
 *       kind: http_api
 *       base_url: http://127.0.0.1:8080
 *       api_key_env: MY_MODEL_API_KEY      # optional: sent as a Bearer token
 *       default_model: custom-model-v1
 *       models: [custom-model-v2]
 *   pricing:
 *     custom-model-v1: { input: 0.1, output: 0.2 }
 *
 * The API it speaks:
 *   POST {base_url}/generate  {"model","prompt","system"?,"messages"?,"temperature","max_tokens"}
 *        -> 200 {"text", "prompt_tokens", "completion_tokens", "model"?, "id"?}
 *   GET  {base_url}/health    -> 200 when the server is up and the key is accepted
 * A failed response is classified like the built-in connectors' failures (429 with Retry-After
 * and 5xx are retried by Temporal, other 4xx are not), through the tools the worker passes in.
 */
import { z } from 'zod';
import type { OrchestratorPlugin, PluginConnectorSettings, ConnectorTools, PluginModelConnector } from '../../../src/plugins/types';

const SettingsSchema = z
  .object({
    /** Path of the generate endpoint under base_url. */
    generate_path: z.string().startsWith('/').default('/generate'),
    /** Path of the health endpoint under base_url. */
    health_path: z.string().startsWith('/').default('/health'),
    /** Milliseconds a call may take when the worker gives no per-attempt timeout. */
    timeout_ms: z.number().int().positive().default(30_000),
  })
  .strict();
type Settings = z.infer<typeof SettingsSchema>;

const AnswerSchema = z.object({
  text: z.string(),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  model: z.string().optional(),
  id: z.string().optional(),
});

/** One connector per provider of kind http_api. */
export function createHttpConnector(connector: PluginConnectorSettings, tools: ConnectorTools, settings: Settings): PluginModelConnector {
  if (!connector.baseUrl) throw new Error(`provider "${connector.provider}" of kind http_api needs base_url`);
  const base = connector.baseUrl.replace(/\/+$/, '');
  const doFetch = connector.fetch ?? fetch;
  const headers = { 'content-type': 'application/json', ...(connector.apiKey && { authorization: `Bearer ${connector.apiKey}` }) };
  return {
    async generate(request, options) {
      tools.assertSupportedModel(request);
      const signals = [AbortSignal.timeout(options?.timeoutMs ?? settings.timeout_ms), ...(options?.signal ? [options.signal] : [])];
      const response = await doFetch(`${base}${settings.generate_path}`, {
        method: 'POST',
        headers,
        signal: AbortSignal.any(signals),
        body: JSON.stringify({
          model: request.model,
          prompt: request.prompt,
          ...(request.systemPrompt !== undefined && { system: request.systemPrompt }),
          ...(request.messages !== undefined && { messages: request.messages }),
          temperature: request.temperature ?? connector.temperature ?? 0.7,
          max_tokens: request.maxTokens ?? connector.maxTokens ?? 1024,
        }),
      });
      if (!response.ok) {
        const message = (await response.text().catch(() => '')).slice(0, 500) || response.statusText;
        throw tools.httpError({ model: request.model, status: response.status, message, headers: response.headers });
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch (err) {
        throw tools.malformed(request.model, `response is not JSON: ${(err as Error).message}`);
      }
      const answer = AnswerSchema.safeParse(body);
      if (!answer.success) throw tools.malformed(request.model, `unexpected response shape: ${answer.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      return {
        content: answer.data.text,
        model: answer.data.model ?? request.model,
        tokensIn: answer.data.prompt_tokens,
        tokensOut: answer.data.completion_tokens,
        providerRequestId: answer.data.id ?? null,
      };
    },
    async validateConnection() {
      try {
        const response = await doFetch(`${base}${settings.health_path}`, { headers, signal: AbortSignal.timeout(5000) });
        return response.status === 200;
      } catch {
        return false;
      }
    },
    getSupportedModels() {
      return [...new Set([connector.defaultModel, ...connector.models])];
    },
  };
}

/** The connector is made in setup, so each worker's connectors use that worker's settings. */
const plugin: OrchestratorPlugin<Settings> = {
  name: 'http-connector',
  version: '1.0.0',
  configSchema: SettingsSchema,
  setup({ config }) {
    return { connectors: { http_api: (connector, tools) => createHttpConnector(connector, tools, config) } };
  },
};

export default plugin;
