/**
 * The worker-side copy of the routing policy: request planning reads it synchronously
 * (`cache.current()`), so no request ever waits on the routing-policy workflow. It refreshes every
 * `refreshIntervalMs` (default 2 s) and on demand (`refresh()`), by querying the workflow, or by
 * reading the latest stored version when the workflow cannot answer; a new version therefore takes
 * effect within a refresh interval. A failed refresh keeps the last good policy.
 *
 * Each query is bounded (`timeoutMs`, default 2 s): a workflow nobody can answer yet (this worker is
 * the only one and is still starting, or its last worker was killed) costs one timeout, then the
 * stored version answers. Versions never go backwards: a source reporting an older version than
 * the one in effect (the database just behind the workflow, or the other way round for a moment)
 * is ignored; only the first source, reporting the same older version three refreshes in a row,
 * is believed (with a warning: the database and the workflow disagree).
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Logger } from '../logger';
import type { MemoryStore } from '../memory/repository';
import { ROUTING_POLICY_WORKFLOW_ID } from './constants';
import { policyFromStored, type RoutingPolicy } from './policy';
import type { RoutingStatsSnapshot } from './stats';
import { currentPolicyQuery, routingStatsQuery } from '../../workflows/routing-policy';

export interface PolicySnapshot {
  policy: RoutingPolicy;
  /** Null when the source has none (the database source never has). */
  stats: RoutingStatsSnapshot | null;
}

export interface PolicySource {
  /** For logs: 'workflow routing-policy', 'database'. */
  readonly name: string;
  load(): Promise<PolicySnapshot | null>;
}

export interface WorkflowPolicySourceOptions {
  /** Longest wait for the workflow's answer (default 2000 ms); then the load fails and the next source answers. */
  timeoutMs?: number;
}

/** The routing-policy workflow, by query (currentPolicy + routingStats), each load bounded by a deadline. */
export function workflowPolicySource(client: Client, workflowId: string = ROUTING_POLICY_WORKFLOW_ID, options: WorkflowPolicySourceOptions = {}): PolicySource {
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    name: `workflow ${workflowId}`,
    async load() {
      const handle = client.workflow.getHandle(workflowId);
      try {
        // allSettled, not all: a load (and so stop()) ends only when both calls have ended, retries
        // included; a call still retrying when the worker closes its connection throws from a timer.
        const [policy, stats] = await client.withDeadline(Date.now() + timeoutMs, () => Promise.allSettled([handle.query(currentPolicyQuery), handle.query(routingStatsQuery)]));
        if (policy.status === 'rejected') throw policy.reason;
        if (stats.status === 'rejected') throw stats.reason;
        return { policy: policy.value, stats: stats.value };
      } catch (err) {
        // Not started yet (a fresh server, before the first worker announces its base): nothing to read.
        if (err instanceof WorkflowNotFoundError) return null;
        if ((err as { code?: unknown }).code === 4 /* DEADLINE_EXCEEDED */ || /deadline/i.test((err as Error).message)) {
          throw new Error(`no answer within ${timeoutMs} ms (is a worker polling its task queue?)`);
        }
        throw err;
      }
    },
  };
}

/** The latest version stored in the database (written by the workflow, or by a worker at start). */
export function databasePolicySource(memory: Pick<MemoryStore, 'latestPolicyVersion'>): PolicySource {
  return {
    name: 'database',
    async load() {
      const row = await memory.latestPolicyVersion();
      if (!row) return null;
      const policy = policyFromStored(row.version, row.policy, row);
      return policy ? { policy, stats: null } : null;
    },
  };
}

export interface RoutingPolicyCacheOptions {
  /** Tried in order until one answers. */
  sources: PolicySource[];
  /** Used until the first successful refresh (e.g. policyFromConfig(config, ...) with the runtime's version). */
  initial: RoutingPolicy;
  /** Default 2000 ms. */
  refreshIntervalMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** Called after a new version has been taken. */
  onChange?: (policy: RoutingPolicy, previous: RoutingPolicy) => void;
  /**
   * Statistics for a source that has none (the database): loaded on the first refresh and then
   * every `statsRefreshMs` (default 60 s). A failed load keeps the last snapshot.
   */
  loadStats?: () => Promise<RoutingStatsSnapshot>;
  statsRefreshMs?: number;
}

export class RoutingPolicyCache {
  private policy: RoutingPolicy;
  private statsSnapshot: RoutingStatsSnapshot | null = null;
  private inflight: Promise<RoutingPolicy> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private statsLoadedAt: number | null = null;
  /** Consecutive refreshes in which the first source reported this older version. */
  private behind: { version: number; count: number } | null = null;
  /** Epoch ms of the last successful refresh; null before the first. */
  lastRefreshedAt: number | null = null;
  /** The source of the current policy ('initial' until a refresh succeeds). */
  origin = 'initial';

  constructor(private readonly options: RoutingPolicyCacheOptions) {
    this.policy = options.initial;
  }

  /** The policy to plan with now. Never waits. */
  current(): RoutingPolicy {
    return this.policy;
  }

  /** The latest statistics snapshot the workflow had (null before one is loaded). */
  stats(): RoutingStatsSnapshot | null {
    return this.statsSnapshot;
  }

  /** Refresh now (concurrent calls share one load). Resolves with the policy in effect afterwards. */
  refresh(): Promise<RoutingPolicy> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async load(): Promise<RoutingPolicy> {
    const problems: string[] = [];
    for (const [i, source] of this.options.sources.entries()) {
      try {
        const snapshot = await source.load();
        if (!snapshot) {
          problems.push(`${source.name}: nothing stored`);
          continue;
        }
        if (snapshot.policy.version < this.policy.version && !this.believeOlder(snapshot.policy.version, i === 0, source.name)) {
          // An older version than the one in effect: keep ours (and the source's statistics).
          if (snapshot.stats) this.statsSnapshot = snapshot.stats;
          this.lastRefreshedAt = Date.now();
          this.failing = false;
          return this.policy;
        }
        if (i === 0) this.behind = null;
        this.take(snapshot, source.name);
        if (!snapshot.stats) await this.loadOwnStats();
        return this.policy;
      } catch (err) {
        problems.push(`${source.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (!this.failing) {
      // Nothing stored anywhere and no error: a fresh database before the routing-policy workflow has
      // seeded, where planning with config.yaml's base is what should happen.
      const empty = problems.every((p) => p.endsWith(': nothing stored'));
      if (empty) this.options.logger?.info({ version: this.policy.version }, "no routing policy stored yet; planning with config.yaml's base");
      else this.options.logger?.warn({ problems, version: this.policy.version }, 'routing policy refresh failed; keeping the current policy');
    }
    this.failing = true;
    return this.policy;
  }

  /** Whether to take an older version from this source (the first one, three times in a row). */
  private believeOlder(version: number, first: boolean, origin: string): boolean {
    if (!first) return false;
    this.behind = this.behind?.version === version ? { version, count: this.behind.count + 1 } : { version, count: 1 };
    if (this.behind.count < 3) return false;
    this.options.logger?.warn(
      { version, inEffect: this.policy.version, source: origin },
      'routing policy source reports an older version than the one in effect, three times in a row: taking it (do the database and the routing-policy workflow belong together?)',
    );
    this.behind = null;
    return true;
  }

  private async loadOwnStats(): Promise<void> {
    const { loadStats, statsRefreshMs = 60_000 } = this.options;
    if (!loadStats) return;
    if (this.statsLoadedAt !== null && Date.now() - this.statsLoadedAt < statsRefreshMs) return;
    try {
      this.statsSnapshot = await loadStats();
      this.statsLoadedAt = Date.now();
    } catch (err) {
      this.options.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'routing statistics load failed; keeping the last snapshot');
    }
  }

  private take(snapshot: PolicySnapshot, origin: string): void {
    const previous = this.policy;
    this.policy = snapshot.policy;
    if (snapshot.stats) this.statsSnapshot = snapshot.stats;
    this.lastRefreshedAt = Date.now();
    this.origin = origin;
    if (this.failing) this.options.logger?.info({ source: origin }, 'routing policy refresh recovered');
    this.failing = false;
    if (snapshot.policy.version !== previous.version) {
      this.options.logger?.info({ version: snapshot.policy.version, previous: previous.version, source: origin, by: snapshot.policy.source, reason: snapshot.policy.reason }, 'routing policy version changed');
      this.options.onChange?.(snapshot.policy, previous);
    }
  }

  /** Refresh now and then every interval, until stop(). */
  start(): this {
    if (this.timer) return this;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs ?? 2000);
    this.timer.unref();
    return this;
  }

  /** Stop refreshing; waits for a refresh in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inflight?.catch(() => undefined);
  }
}
