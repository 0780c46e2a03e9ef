/**
 * routingPolicyWorkflow: the one long-lived holder of the routing policy (rules, weights,
 * demotions, exploration, objective), its version history, and a statistics snapshot.
 *
 * - Changes arrive as signals (`applyRoutingUpdate`, `rollbackRoutingPolicy`), so each shows in
 *   the Web UI as a signal on this workflow. They are queued and applied one at a time, in order.
 * - Every accepted change becomes a new version persisted through the `recordPolicyVersion`
 *   activity with its source and reason; the database assigns the number, and the policy only
 *   takes it (and becomes visible to queries) once the row exists. The write is idempotent by a
 *   change key, so retries and replays never duplicate a version.
 * - config.yaml is the base: each worker announces its routing base at start (`applyBaseConfig`).
 *   A base that differs from the one held becomes a new version (source `config.yaml`, the diff
 *   in its reason) with the run-time changes re-applied on it; a run-time change that config.yaml
 *   now overrides is dropped and reported by name (reason, rejections, log). The same base again
 *   changes nothing. Behind patch `routing-config-base`.
 * - An invalid change is rejected with a typed error and kept in a bounded list (query).
 * - Continues as new when the server suggests it (or after `maxChangesPerRun` changes), after
 *   `condition(allHandlersFinished)`, carrying the state and every change not yet applied.
 *
 * Deterministic code only: the database and the configuration are reached through activities.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { RoutingActivities } from '../activities/routing';
import {
  applyParsedUpdate,
  baseOf,
  describeBaseChange,
  describeLayers,
  policyBody,
  policyError,
  rebasePolicy,
  sameBase,
  samePolicyContent,
  validatePolicy,
  type KnownProviders,
  type PolicyUpdateError,
  type RoutingBase,
  type RoutingBaseConfig,
} from '../src/routing/policy-rules';
import type * as PolicySchemas from '../src/routing/policy-schemas';
import type { RoutingPolicy, RoutingRollback, RoutingUpdate, RoutingUpdateKind } from '../src/routing/policy-schemas';
import type { RoutingStatsSnapshot } from '../src/routing/stats';

export type { RoutingBaseConfig } from '../src/routing/policy-rules';
export type { RoutingRollback, RoutingUpdate } from '../src/routing/policy-schemas';

/**
 * The zod schemas that validate a change, loaded when the first change of a run is validated.
 * Not imported at module scope: the SDK evaluates the bundle's module scope again for every
 * workflow run (each request's too), and zod with these schemas cost ~45 ms of CPU each time.
 * Webpack bundles the module; `require` runs it on first use, once per run.
 */
function policySchemas(): typeof PolicySchemas {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (above); tested by test/build/workflow-bundle-imports.test.ts
  return require('../src/routing/policy-schemas') as typeof PolicySchemas;
}

// ---------------------------------------------------------------------------------------------
// Types carried in state and returned by queries

/** A change as received, validated only when its turn comes. */
export interface PendingChange {
  type: 'update' | 'rollback' | 'base';
  payload: unknown;
  receivedAt: string;
}

export interface PolicyVersionEntry {
  version: number;
  kind: 'seed' | 'rollback' | 'config' | RoutingUpdateKind;
  summary: string;
  source: string;
  reason: string;
  at: string;
  /** The version it was derived from (the target, for a rollback); null for the seed. */
  basedOn: number | null;
}

export interface RejectedChange {
  id: string | null;
  /** `base`: a run-time change dropped because the new config.yaml base overrides it. */
  type: 'update' | 'rollback' | 'base';
  kind: string;
  source: string | null;
  reason: string | null;
  receivedAt: string;
  rejectedAt: string;
  error: PolicyUpdateError;
  /** The payload as received, as JSON (cut at 500 characters). */
  payload: string;
}

/** What became of a change sent with an `id` (routingChangeOutcome query). */
export type ChangeOutcome =
  | { id: string; status: 'accepted'; version: number; summary: string }
  | { id: string; status: 'unchanged'; version: number; summary: string }
  | { id: string; status: 'rejected'; error: PolicyUpdateError };

export interface RoutingPolicyState {
  policy: RoutingPolicy;
  /** Changes attempted so far; change n is persisted under key `<first run id>:<n>` (the seed is 0). */
  changes: number;
  history: PolicyVersionEntry[];
  /** The latest full policies, for rollbacks without a database read. */
  recent: RoutingPolicy[];
  rejections: RejectedChange[];
  outcomes: ChangeOutcome[];
  stats: RoutingStatsSnapshot | null;
  /** Epoch ms of the last statistics load (attempt). */
  statsLoadedAt: number | null;
  /** Runs in this chain, this one included. */
  runs: number;
  /**
   * The config.yaml base the policy is layered on (absent in state carried from before patch
   * `routing-config-base`: the seed's base is then looked up on the first announcement).
   */
  base?: { policy: RoutingBase; hash: string | null };
  /** Providers from the last announced configuration (absent: each run's loadRoutingSetup). */
  known?: KnownProviders;
}

/** The base and what is layered on it (routingBase query). */
export interface RoutingBaseView {
  base: RoutingBase;
  hash: string | null;
  /** The run-time changes on top of the base, by name (describeLayers). */
  layers: string[];
}

export interface RoutingPolicyWorkflowInput {
  /** Set by continue-as-new; absent on a fresh start (the seed then comes from the worker's config). */
  state?: RoutingPolicyState;
  /** Changes received but not applied yet (carried by continue-as-new). */
  pending?: PendingChange[];
  /** Continue as new after this many changes in one run (for tests); default: when the server suggests it. */
  maxChangesPerRun?: number;
  /** Reload the statistics snapshot this often, in ms; 0 disables. Default 5 minutes. */
  statsRefreshMs?: number;
}

export interface RoutingPolicyStatus {
  version: number;
  pending: number;
  changesThisRun: number;
  runs: number;
  statsAsOf: string | null;
}

// ---------------------------------------------------------------------------------------------
// Signals and queries (clients import these same constants)

export const applyRoutingUpdateSignal = defineSignal<[RoutingUpdate]>('applyRoutingUpdate');
export const rollbackRoutingPolicySignal = defineSignal<[RoutingRollback]>('rollbackRoutingPolicy');
/** A worker's config.yaml routing base, sent at its start (signalWithStart). */
export const applyBaseConfigSignal = defineSignal<[RoutingBaseConfig]>('applyBaseConfig');
/** The config.yaml base and the run-time changes on it; null before the first announcement of a chain started before patch `routing-config-base`. */
export const routingBaseQuery = defineQuery<RoutingBaseView | null>('routingBase');
export const currentPolicyQuery = defineQuery<RoutingPolicy>('currentPolicy');
/** Versions this workflow recorded, oldest first (the latest HISTORY_LIMIT). */
export const policyHistoryQuery = defineQuery<PolicyVersionEntry[]>('policyHistory');
/** Rejected changes, oldest first (the latest REJECTIONS_LIMIT). */
export const rejectedRoutingChangesQuery = defineQuery<RejectedChange[]>('rejectedRoutingChanges');
export const routingChangeOutcomeQuery = defineQuery<ChangeOutcome | null, [string]>('routingChangeOutcome');
export const routingStatsQuery = defineQuery<RoutingStatsSnapshot | null>('routingStats');
export const routingPolicyStatusQuery = defineQuery<RoutingPolicyStatus>('routingPolicyStatus');

export const HISTORY_LIMIT = 200;
export const REJECTIONS_LIMIT = 50;
const RECENT_LIMIT = 20;
const OUTCOMES_LIMIT = 200;
const DEFAULT_STATS_REFRESH_MS = 5 * 60 * 1000;
/** Patch id of the config.yaml base (applyBaseConfig). */
export const CONFIG_BASE_PATCH = 'routing-config-base';

// ---------------------------------------------------------------------------------------------

/** Writes and reads that must succeed: retried until the database answers (a change waits, never drops). */
const database = proxyActivities<RoutingActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: ['InvalidPolicy'] },
});

/** Statistics: a few attempts, then the old snapshot stays. */
const statistics = proxyActivities<RoutingActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

function pushBounded<T>(list: T[], item: T, limit: number): void {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

function field(payload: unknown, name: string): string | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const value = (payload as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : null;
}

function payloadText(payload: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(payload) ?? String(payload);
  } catch {
    text = String(payload);
  }
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

export async function routingPolicyWorkflow(input: RoutingPolicyWorkflowInput = {}): Promise<void> {
  const { state: carried, pending: carriedPending, ...options } = input;
  const pending: PendingChange[] = [...(carriedPending ?? [])];
  let state: RoutingPolicyState | null = carried ?? null;
  let changesThisRun = 0;
  const statsRefreshMs = options.statsRefreshMs ?? DEFAULT_STATS_REFRESH_MS;
  const now = () => new Date().toISOString();

  const ready = (): RoutingPolicyState => {
    if (!state) throw new Error('the routing policy is not loaded yet: the routing-policy workflow is starting');
    return state;
  };

  setHandler(applyRoutingUpdateSignal, (update) => {
    pending.push({ type: 'update', payload: update, receivedAt: now() });
  });
  setHandler(rollbackRoutingPolicySignal, (rollback) => {
    pending.push({ type: 'rollback', payload: rollback, receivedAt: now() });
  });
  setHandler(applyBaseConfigSignal, (base) => {
    // Code from before the patch had no handler: replaying its histories must not queue anything.
    if (patched(CONFIG_BASE_PATCH)) pending.push({ type: 'base', payload: base, receivedAt: now() });
  });
  setHandler(routingBaseQuery, () => {
    const s = ready();
    return s.base ? { base: s.base.policy, hash: s.base.hash, layers: describeLayers(s.base.policy, s.policy) } : null;
  });
  setHandler(currentPolicyQuery, () => ready().policy);
  setHandler(policyHistoryQuery, () => ready().history);
  setHandler(rejectedRoutingChangesQuery, () => ready().rejections);
  setHandler(routingChangeOutcomeQuery, (id) => state?.outcomes.find((o) => o.id === id) ?? null);
  setHandler(routingStatsQuery, () => ready().stats);
  setHandler(routingPolicyStatusQuery, () => {
    const s = ready();
    return { version: s.policy.version, pending: pending.length, changesThisRun, runs: s.runs, statsAsOf: s.stats?.asOf ?? null };
  });

  const setup = await database.loadRoutingSetup();
  let known: KnownProviders = state?.known ?? setup.knownProviders;
  const changeKey = (n: number) => `routing-policy:${workflowInfo().firstExecutionRunId}:${n}`;

  if (!state) {
    const seed = setup.seed;
    const { version } = await database.recordPolicyVersion({ key: changeKey(0), policy: policyBody(seed), source: seed.source, reason: seed.reason });
    const policy = { ...seed, version };
    state = {
      policy,
      changes: 0,
      history: [{ version, kind: 'seed', summary: 'initial policy from configuration', source: seed.source, reason: seed.reason, at: seed.updatedAt, basedOn: null }],
      recent: [policy],
      rejections: [],
      outcomes: [],
      stats: null,
      statsLoadedAt: null,
      runs: 1,
      base: { policy: baseOf(seed), hash: null },
    };
    log.info('routing policy seeded', { version });
  }
  const s: RoutingPolicyState = state;

  function outcome(o: ChangeOutcome): void {
    pushBounded(s.outcomes, o, OUTCOMES_LIMIT);
  }

  function reject(change: PendingChange, error: PolicyUpdateError): void {
    const id = field(change.payload, 'id');
    pushBounded(
      s.rejections,
      {
        id,
        type: change.type,
        kind: change.type === 'rollback' ? 'rollback' : change.type === 'base' ? 'config' : (field(change.payload, 'kind') ?? 'unknown'),
        source: field(change.payload, 'source'),
        reason: field(change.payload, 'reason'),
        receivedAt: change.receivedAt,
        rejectedAt: now(),
        error,
        payload: payloadText(change.payload),
      },
      REJECTIONS_LIMIT,
    );
    if (id) outcome({ id, status: 'rejected', error });
    log.warn('routing change rejected', { code: error.code, message: error.message });
  }

  /** Persist `next` as a new version; on success it becomes the current policy. */
  async function commit(change: PendingChange, next: RoutingPolicy, kind: PolicyVersionEntry['kind'], summary: string): Promise<boolean> {
    // The number is used up even if the write fails, so a key never names two different policies.
    s.changes += 1;
    let version: number;
    try {
      ({ version } = await database.recordPolicyVersion({ key: changeKey(s.changes), policy: policyBody(next), source: next.source, reason: next.reason }));
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      reject(change, policyError(kind, [{ path: '(database)', code: 'PersistFailed', message: err.cause?.message ?? err.message }]));
      return false;
    }
    const policy: RoutingPolicy = { ...next, version };
    s.policy = policy;
    pushBounded(s.history, { version, kind, summary, source: next.source, reason: next.reason, at: next.updatedAt, basedOn: next.basedOn }, HISTORY_LIMIT);
    pushBounded(s.recent, policy, RECENT_LIMIT);
    const id = field(change.payload, 'id');
    if (id) outcome({ id, status: 'accepted', version, summary });
    log.info('routing policy changed', { version, kind, summary, source: next.source });
    return true;
  }

  /** The base a chain from before the patch was seeded with: the seed version's rules and defaults. */
  async function seededBase(): Promise<RoutingBase> {
    const seed = s.history.find((h) => h.kind === 'seed');
    const held = seed ? s.recent.find((p) => p.version === seed.version) : undefined;
    if (held) return baseOf(held);
    if (seed) {
      const loaded = await database.loadPolicyVersion({ version: seed.version });
      if (loaded.status === 'found') return baseOf(loaded.policy);
    }
    log.warn('the seed of the routing policy is not known any more; taking the current rules as the config.yaml base');
    return baseOf(s.policy);
  }

  async function applyBase(change: PendingChange): Promise<void> {
    const id = field(change.payload, 'id');
    const announced = change.payload as Partial<RoutingBaseConfig> | null;
    const base = announced?.base;
    if (!announced || !base || (base.strategy !== 'static' && base.strategy !== 'performance_based') || !Array.isArray(base.rules) || !Array.isArray(base.defaultProviders) || !Array.isArray(base.defaultFallback) || typeof announced.knownProviders !== 'object' || announced.knownProviders === null) {
      return reject(change, policyError('config', [{ path: '(root)', code: 'InvalidUpdate', message: 'expected { base: { strategy, rules, defaultProviders, defaultFallback }, knownProviders, hash, source }' }]));
    }
    const nextKnown = announced.knownProviders;
    const nextBase: RoutingBase = { strategy: base.strategy, rules: base.rules, defaultProviders: base.defaultProviders, defaultFallback: base.defaultFallback };
    const issues = validatePolicy({ ...s.policy, ...nextBase }, nextKnown);
    if (issues.length > 0) return reject(change, policyError('config', issues));
    const oldBase = s.base?.policy ?? (await seededBase());
    const hash = typeof announced.hash === 'string' ? announced.hash : null;
    const diff = describeBaseChange(oldBase, nextBase);
    known = nextKnown;
    s.known = nextKnown;
    const at = now();
    const rebased = rebasePolicy({ policy: s.policy, oldBase, newBase: nextBase, known, at, source: 'config.yaml', reason: '' });
    const unchanged = () => {
      s.base = { policy: nextBase, hash };
      if (id) outcome({ id, status: 'unchanged', version: s.policy.version, summary: diff.length > 0 ? `config.yaml: ${diff.join('; ')}` : 'config.yaml unchanged' });
    };
    if (sameBase(oldBase, nextBase) && rebased.conflicts.length === 0) return unchanged();
    if (samePolicyContent(rebased.policy, s.policy)) return unchanged();

    const changed = diff.length > 0 ? diff.join('; ') : 'providers changed';
    const conflicts = rebased.conflicts.map((c) => `${c.item} (${c.kind}${c.source ? ` by ${c.source}` : ''}): ${c.message}`);
    const reason = [
      `config.yaml changed: ${changed}`,
      rebased.kept.length > 0 ? `run-time changes kept: ${rebased.kept.join(', ')}` : null,
      conflicts.length > 0 ? `conflicts, config.yaml wins: ${conflicts.join('; ')}` : null,
    ]
      .filter((x): x is string => x !== null)
      .join('. ');
    const next: RoutingPolicy = { ...rebased.policy, reason };
    if (!(await commit(change, next, 'config', changed))) return;
    s.base = { policy: nextBase, hash };
    for (const c of rebased.conflicts) {
      const error: PolicyUpdateError = { code: 'BaseConflict', message: `${c.item}: ${c.message}`, issues: c.issues };
      pushBounded(
        s.rejections,
        { id: null, type: 'base', kind: c.kind, source: c.source, reason: `config.yaml change in v${s.policy.version}`, receivedAt: change.receivedAt, rejectedAt: at, error, payload: payloadText({ item: c.item }) },
        REJECTIONS_LIMIT,
      );
      log.warn('run-time routing change overridden by config.yaml', { item: c.item, kind: c.kind, message: c.message, version: s.policy.version });
    }
  }

  async function applyChange(change: PendingChange): Promise<void> {
    const at = now();
    const id = field(change.payload, 'id');
    if (change.type === 'base') return applyBase(change);
    if (change.type === 'update') {
      const parsed = policySchemas().parseRoutingUpdate(change.payload);
      if (!parsed.ok) return reject(change, parsed.error);
      const result = applyParsedUpdate(s.policy, parsed.update, known, at);
      if (!result.ok) return reject(change, result.error);
      if (!result.changed) {
        if (id) outcome({ id, status: 'unchanged', version: s.policy.version, summary: result.summary });
        return;
      }
      await commit(change, result.policy, result.update.kind, result.summary);
      return;
    }

    const parsed = policySchemas().parseRoutingRollback(change.payload);
    if (!parsed.ok) return reject(change, parsed.error);
    const rb = parsed.rollback;
    const summary = `rollback to v${rb.version}`;
    if (rb.version === s.policy.version) {
      if (id) outcome({ id, status: 'unchanged', version: s.policy.version, summary });
      return;
    }
    let target = s.recent.find((p) => p.version === rb.version) ?? null;
    if (!target) {
      const loaded = await database.loadPolicyVersion({ version: rb.version });
      if (loaded.status === 'missing') return reject(change, policyError('rollback', [{ path: 'version', code: 'UnknownVersion', message: `no routing policy version ${rb.version}` }]));
      if (loaded.status === 'unreadable') return reject(change, policyError('rollback', [{ path: 'version', code: 'InvalidPolicy', message: loaded.message }]));
      target = loaded.policy;
    }
    const issues = validatePolicy(target, known);
    if (issues.length > 0) {
      return reject(change, policyError(`rollback to v${rb.version}`, issues.map((i) => ({ ...i, code: i.code === 'InvalidRule' ? 'InvalidPolicy' : i.code }))));
    }
    const next: RoutingPolicy = { ...target, version: s.policy.version + 1, updatedAt: at, source: rb.source, reason: `${summary}: ${rb.reason}`, basedOn: rb.version };
    if (samePolicyContent(next, s.policy)) {
      if (id) outcome({ id, status: 'unchanged', version: s.policy.version, summary });
      return;
    }
    await commit(change, next, 'rollback', summary);
  }

  async function refreshStats(): Promise<void> {
    try {
      s.stats = await statistics.loadRoutingStats();
    } catch (err) {
      log.warn('routing statistics not refreshed; keeping the previous snapshot', { error: err instanceof Error ? err.message : String(err) });
    }
    s.statsLoadedAt = Date.now();
  }

  const maxChanges = options.maxChangesPerRun !== undefined && options.maxChangesPerRun > 0 ? options.maxChangesPerRun : Infinity;
  const rotate = () => workflowInfo().continueAsNewSuggested || changesThisRun >= maxChanges;

  for (;;) {
    if (statsRefreshMs > 0) {
      const due = s.statsLoadedAt === null ? 0 : s.statsLoadedAt + statsRefreshMs - Date.now();
      if (due <= 0) await refreshStats();
      const wait = (s.statsLoadedAt ?? Date.now()) + statsRefreshMs - Date.now();
      await condition(() => pending.length > 0 || rotate(), Math.max(1, wait));
    } else {
      await condition(() => pending.length > 0 || rotate());
    }

    while (pending.length > 0 && !rotate()) {
      await applyChange(pending.shift()!);
      changesThisRun++;
    }

    if (rotate()) {
      // Signal handlers only enqueue, but wait for them anyway: nothing may be cut off mid-way.
      await condition(allHandlersFinished);
      await continueAsNew<typeof routingPolicyWorkflow>({ ...options, state: { ...s, runs: s.runs + 1 }, pending: [...pending] });
    }
  }
}
