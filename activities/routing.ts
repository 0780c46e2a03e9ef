/**
 * Activities of the routing-policy workflow (workflows/routing-policy.ts): its seed and the
 * providers it may route to (from the worker's configuration), persisting every accepted policy
 * version, reading old versions back for rollbacks, and the statistics snapshot.
 * Built by a factory from its dependencies; the integrator merges it into createActivities.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Config } from '../src/config/schema';
import type { Logger } from '../src/logger';
import type { MemoryStore } from '../src/memory/repository';
import type { StatsQueries } from '../src/memory/stats-queries';
import { knownProvidersFromConfig, policyFromConfig, policyFromStored, RoutingPolicySchema, type KnownProviders, type RoutingPolicy, type RoutingPolicyBody } from '../src/routing/policy';
import { DEFAULT_STATS_HALF_LIFE_MS, loadProviderStats, type RoutingStatsSnapshot } from '../src/routing/stats';

export interface RoutingActivityDependencies {
  config: Pick<Config, 'models' | 'routing'>;
  memory: Pick<MemoryStore, 'recordPolicyVersion'>;
  /** From createStatsQueries(prismaClient) or openStatsQueries(databaseUrl) (src/memory/stats-queries.ts). */
  queries: StatsQueries;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /**
   * Statistics window, row cap, half-life, and the most entries a snapshot carries (it travels in
   * workflow state and queries, so it stays small). Defaults: 30 days, 50 000 rows, one day, 400.
   */
  stats?: { windowMs?: number | null; maxRows?: number; halfLifeMs?: number | null; maxEntries?: number };
  /** Clock (tests). */
  now?: () => number;
}

export interface RoutingSetup {
  /** The policy a fresh routing-policy workflow starts from (version 0 until recorded). */
  seed: RoutingPolicy;
  /** Providers and models updates may name (this worker's configuration). */
  knownProviders: KnownProviders;
}

export interface RecordPolicyVersionInput {
  /**
   * Idempotency key of the change (`<first run id>:<change number>`), stored in the row's
   * configHash column: a retried or replayed call finds the row it wrote and returns its version.
   */
  key: string;
  policy: RoutingPolicyBody;
  source: string;
  reason: string;
}

export type LoadedPolicyVersion =
  | { status: 'found'; policy: RoutingPolicy; source: string; reason: string; createdAt: string }
  | { status: 'missing' }
  | { status: 'unreadable'; message: string };

export function createRoutingActivities(deps: RoutingActivityDependencies) {
  const { config, memory, queries } = deps;
  const now = deps.now ?? Date.now;

  return {
    /** The seed policy and the known providers, from this worker's configuration. */
    loadRoutingSetup(): Promise<RoutingSetup> {
      return Promise.resolve({ seed: policyFromConfig(config, new Date(now()).toISOString()), knownProviders: knownProvidersFromConfig(config) });
    },

    /** Store one accepted policy version with who changed it and why; idempotent by `key`. */
    async recordPolicyVersion(input: RecordPolicyVersionInput): Promise<{ version: number; created: boolean }> {
      const check = RoutingPolicySchema.safeParse({ ...input.policy, version: 0 });
      if (!check.success) {
        throw ApplicationFailure.nonRetryable(`policy is not a valid routing policy: ${check.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'InvalidPolicy');
      }
      const existing = await queries.policyVersionByKey(input.key);
      if (existing) return { version: existing.version, created: false };
      const version = await memory.recordPolicyVersion({ policy: input.policy, configHash: input.key, source: input.source, reason: input.reason });
      deps.logger?.info({ version, source: input.source, reason: input.reason }, 'routing policy version recorded');
      return { version, created: true };
    },

    /** A stored version, for a rollback to one the workflow no longer holds. */
    async loadPolicyVersion({ version }: { version: number }): Promise<LoadedPolicyVersion> {
      const row = await queries.policyVersion(version);
      if (!row) return { status: 'missing' };
      const policy = policyFromStored(row.version, row.policy, row);
      if (!policy) return { status: 'unreadable', message: `version ${version} is stored in a shape that is not a routing policy` };
      return { status: 'found', policy, source: row.source, reason: row.reason, createdAt: row.createdAt };
    },

    /** Running statistics from the database (the window of recent provider calls). */
    async loadRoutingStats(): Promise<RoutingStatsSnapshot> {
      const at = now();
      const stats = await loadProviderStats(queries, {
        now: at,
        windowMs: deps.stats?.windowMs === undefined ? 30 * 24 * 60 * 60 * 1000 : deps.stats.windowMs,
        limit: deps.stats?.maxRows ?? 50_000,
        halfLifeMs: deps.stats?.halfLifeMs === undefined ? DEFAULT_STATS_HALF_LIFE_MS : deps.stats.halfLifeMs,
      });
      return capEntries(stats.snapshot(at), deps.stats?.maxEntries ?? 400);
    },
  };
}

/** Keep the coarse levels (task type, model) and the exact keys with the most recent weight. */
function capEntries(snapshot: RoutingStatsSnapshot, max: number): RoutingStatsSnapshot {
  if (snapshot.entries.length <= max) return snapshot;
  const coarse = snapshot.entries.filter((e) => e.key.complexity === 'any');
  const exact = snapshot.entries.filter((e) => e.key.complexity !== 'any').sort((a, b) => b.weight - a.weight);
  const kept = new Set([...coarse, ...exact].slice(0, max));
  return { ...snapshot, entries: snapshot.entries.filter((e) => kept.has(e)) };
}

export type RoutingActivities = ReturnType<typeof createRoutingActivities>;
