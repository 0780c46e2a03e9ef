/**
 * The routing policy: what the routing-policy workflow holds and request planning reads. Rules (as
 * in config.yaml), provider weights and demotions, the exploration rate and method, and the
 * ranking objective, under a version number that the database assigns.
 *
 * The whole public surface, in two parts: ./policy-schemas (zod schemas, validation, the types
 * inferred from them) and ./policy-rules (pure functions over a policy). Workflow code imports
 * ./policy-rules, and ./policy-schemas only lazily (see workflows/routing-policy.ts), never this
 * module: the SDK evaluates the workflow bundle's module scope again for every workflow run.
 */
import { applyParsedUpdate, type ApplyUpdateResult, type KnownProviders } from './policy-rules';
import { parseRoutingUpdate, type RoutingPolicy } from './policy-schemas';

export * from './policy-rules';
export * from './policy-schemas';

/**
 * Validate one update (as any sender may send it) and apply it to a policy: the next policy
 * (version = current + 1, provisional), `changed: false` when it changes nothing, or a typed error
 * naming every problem found.
 *
 * @param at ISO-8601 time of the change (from the workflow's deterministic clock).
 */
export function applyUpdate(policy: RoutingPolicy, update: unknown, known: KnownProviders, at: string = policy.updatedAt): ApplyUpdateResult {
  const parsed = parseRoutingUpdate(update);
  return parsed.ok ? applyParsedUpdate(policy, parsed.update, known, at) : parsed;
}
