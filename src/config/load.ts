import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, zodIssues } from '../errors';
import { ConfigSchema, type Config, type ProviderConfig } from './schema';

/** Parse and validate a config object; cross-checks what zod alone cannot (provider references, pricing). */
export function parseConfig(raw: unknown, source = 'config'): Config {
  removedKeys(raw, source);
  const parsed = ConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new ConfigError(`${source} is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);
  }
  const config = parsed.data;
  const issues: { path: string; message: string }[] = [];
  const checkSelector = (selector: string, path: string): void => {
    const problem = selectorProblem(config, selector);
    if (problem) issues.push({ path, message: problem });
  };
  config.routing.default_providers.forEach((s, i) => checkSelector(s, `routing.default_providers.${i}`));
  config.routing.default_fallback.forEach((s, i) => checkSelector(s, `routing.default_fallback.${i}`));
  config.routing.rules.forEach((rule, r) => {
    rule.providers.forEach((s, i) => checkSelector(s, `routing.rules.${r}.providers.${i}`));
    rule.fallback.forEach((s, i) => checkSelector(s, `routing.rules.${r}.fallback.${i}`));
    if (rule.min_providers !== undefined && rule.min_providers > rule.providers.length + rule.fallback.length) {
      issues.push({
        path: `routing.rules.${r}.min_providers`,
        message: `min_providers ${rule.min_providers} exceeds the ${rule.providers.length + rule.fallback.length} providers and fallbacks of this rule`,
      });
    }
  });
  const classifier = config.routing.llm_evaluator;
  if (classifier?.enabled) checkSelector(classifier.model ? `${classifier.provider}:${classifier.model}` : classifier.provider, 'routing.llm_evaluator');
  for (const name of Object.keys(config.performance.models)) {
    if (!config.models[name]) issues.push({ path: `performance.models.${name}`, message: `unknown provider "${name}" (not under models)` });
  }
  for (const [name, provider] of Object.entries(config.models)) {
    if (provider.kind === 'openai_compatible' && !provider.base_url) {
      issues.push({ path: `models.${name}.base_url`, message: 'an openai_compatible provider needs base_url' });
    }
    for (const model of supportedModels(provider)) {
      if (!config.pricing[model] && provider.kind !== 'openai_compatible') {
        issues.push({ path: `pricing.${model}`, message: `no price for model "${model}" of provider "${name}" (costs would be wrong)` });
      }
    }
  }
  if (issues.length > 0) {
    throw new ConfigError(`${source} is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);
  }
  return config;
}

/**
 * Keys that were accepted once and did nothing: refused with what to write instead, never ignored.
 * `framework.enable_caching` never reached the response cache, whose switch is
 * `resilience.cache.enabled`; two switches for one cache would only contradict each other.
 */
function removedKeys(raw: unknown, source: string): void {
  const framework = typeof raw === 'object' && raw !== null ? (raw as { framework?: unknown }).framework : undefined;
  if (typeof framework === 'object' && framework !== null && 'enable_caching' in framework) {
    const message = 'framework.enable_caching is not a setting: the response cache is turned on with resilience.cache.enabled (and its lifetime is resilience.cache.ttl_s); remove framework.enable_caching';
    throw new ConfigError(`${source} is invalid:\n  - framework.enable_caching: ${message}`, [{ path: 'framework.enable_caching', message }]);
  }
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, [{ path: '(file)', message: 'unreadable' }], { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(`${path} is not valid YAML${where}: ${(err as Error).message}`, [{ path: '(yaml)', message: (err as Error).message }], { cause: err });
  }
  return parseConfig(raw, path);
}

export function supportedModels(provider: ProviderConfig): string[] {
  return [...new Set([provider.default_model, ...provider.models])];
}

/** Split `provider` / `provider:model` into its parts (model defaults to the provider's default). */
export function resolveSelector(config: Config, selector: string): { provider: string; model: string } | null {
  const [name, model] = splitSelector(selector);
  const provider = config.models[name];
  if (!provider) return null;
  return { provider: name, model: model ?? provider.default_model };
}

export function splitSelector(selector: string): [string, string | undefined] {
  const i = selector.indexOf(':');
  return i < 0 ? [selector, undefined] : [selector.slice(0, i), selector.slice(i + 1)];
}

/** Why a selector is unusable, or null when it is fine. */
export function selectorProblem(config: Config, selector: string): string | null {
  const [name, model] = splitSelector(selector);
  const provider = config.models[name];
  if (!provider) return `unknown provider "${name}" (configured: ${Object.keys(config.models).join(', ')})`;
  if (!provider.enabled) return `provider "${name}" is disabled`;
  if (model !== undefined && !supportedModels(provider).includes(model)) {
    return `unknown model "${model}" for provider "${name}" (configured: ${supportedModels(provider).join(', ')})`;
  }
  return null;
}
