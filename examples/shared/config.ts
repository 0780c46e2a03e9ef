/**
 * An example's configuration: the repository's config.yaml (providers, prices, consensus,
 * resilience) with the example's routing rules applied on top. A rule replaces the config.yaml rule
 * with the same id, or else the one for the same task type and complexity; any other is appended.
 * The result is validated like config.yaml itself, so a bad rule fails naming `routing.rules.<n>`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import type { RoutingRuleInput } from '../../src/routing/policy';
import { ConfigError } from '../../src/errors';

export type { RoutingRuleInput };

export function configWithRules(configPath: string, rules: readonly RoutingRuleInput[]): Config {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read ${configPath}: ${(err as Error).message}`, [{ path: '(file)', message: 'unreadable or not YAML' }], { cause: err });
  }
  const base = (typeof raw === 'object' && raw !== null ? raw : {}) as { routing?: { rules?: RoutingRuleInput[] } };
  const merged = [...(base.routing?.rules ?? [])];
  for (const rule of rules) {
    const complexity = rule.complexity ?? 'any';
    const at = merged.findIndex((r) => (rule.id !== undefined && r.id === rule.id) || (r.task_type === rule.task_type && (r.complexity ?? 'any') === complexity));
    if (at >= 0) merged[at] = rule;
    else merged.push(rule);
  }
  return parseConfig({ ...base, routing: { ...base.routing, rules: merged } }, `${configPath} with the example's routing rules`);
}
