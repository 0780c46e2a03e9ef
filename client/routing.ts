/**
 * Routing through the client SDK: show the current policy, set a rule, roll back, or send any
 * routing update. Changes are signals to the routing-policy workflow (started if absent, with
 * signalWithStart); each carries an id, and the call waits (briefly) for the workflow to report
 * what became of it: accepted as version N, unchanged, or rejected with the reason.
 * A worker announces its config.yaml base at start with applyBaseConfig (and does not wait).
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TASK_QUEUE } from '../src/constants';
import { InvalidRequest, zodIssues } from '../src/errors';
import { ROUTING_POLICY_WORKFLOW_ID, ROUTING_POLICY_WORKFLOW_TYPE } from '../src/routing/constants';
import { RoutingRollbackSchema, RoutingUpdateSchema, type RoutingBaseConfig, type RoutingPolicy, type RoutingRollback, type RoutingRuleInput, type RoutingUpdate } from '../src/routing/policy';
import type { RoutingStatsSnapshot } from '../src/routing/stats';
import {
  applyBaseConfigSignal,
  applyRoutingUpdateSignal,
  currentPolicyQuery,
  policyHistoryQuery,
  rejectedRoutingChangesQuery,
  rollbackRoutingPolicySignal,
  routingBaseQuery,
  routingChangeOutcomeQuery,
  routingStatsQuery,
  type ChangeOutcome,
  type PolicyVersionEntry,
  type RejectedChange,
  type RoutingBaseView,
  type RoutingPolicyWorkflowInput,
  type routingPolicyWorkflow,
} from '../workflows/routing-policy';

export interface RoutingClientOptions {
  client: Client;
  /** Default: TASK_QUEUE (the worker's). */
  taskQueue?: string;
  /** Default: ROUTING_POLICY_WORKFLOW_ID. */
  workflowId?: string;
  /** Input when this call is the one that starts the workflow. */
  workflowInput?: Omit<RoutingPolicyWorkflowInput, 'state' | 'pending'>;
  /** How long a change waits for its outcome, and show for the policy to load (default 10 s). */
  waitMs?: number;
}

export interface RoutingView {
  policy: RoutingPolicy;
  history: PolicyVersionEntry[];
  rejections: RejectedChange[];
  stats: RoutingStatsSnapshot | null;
  /** The config.yaml base and the run-time changes on it (null before a chain from an older version heard from a worker). */
  base: RoutingBaseView | null;
}

/** The outcome the workflow reported, or `pending` when it had not applied the change within waitMs. */
export type RoutingChangeResult = ChangeOutcome | { id: string; status: 'pending' };

type PolicyHandle = WorkflowHandle<typeof routingPolicyWorkflow>;

function startOptions(o: RoutingClientOptions) {
  return {
    workflowId: o.workflowId ?? ROUTING_POLICY_WORKFLOW_ID,
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    args: [o.workflowInput ?? {}] as [RoutingPolicyWorkflowInput],
    staticSummary: 'routing policy: rules, weights, exploration, version history',
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry `fn` until it succeeds or `waitMs` passed (the workflow may still be loading its seed). */
async function eventually<T>(waitMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(200);
    }
  }
}

/** The routing-policy workflow's handle, starting it when it is not running. */
export async function ensureRoutingPolicyWorkflow(o: RoutingClientOptions): Promise<PolicyHandle> {
  return o.client.workflow.start<typeof routingPolicyWorkflow>(ROUTING_POLICY_WORKFLOW_TYPE, { ...startOptions(o), workflowIdConflictPolicy: 'USE_EXISTING' });
}

/** The current policy, its version history, rejected changes and the statistics snapshot. */
export async function showRouting(o: RoutingClientOptions): Promise<RoutingView> {
  const handle = await ensureRoutingPolicyWorkflow(o);
  return eventually(o.waitMs ?? 10_000, async () => {
    const [policy, history, rejections, stats, base] = await Promise.all([
      handle.query(currentPolicyQuery),
      handle.query(policyHistoryQuery),
      handle.query(rejectedRoutingChangesQuery),
      handle.query(routingStatsQuery),
      // A workflow still on code from before the base existed has no such query.
      handle.query(routingBaseQuery).catch(() => null),
    ]);
    return { policy, history, rejections, stats, base };
  });
}

async function awaitOutcome(o: RoutingClientOptions, handle: PolicyHandle, id: string): Promise<RoutingChangeResult> {
  const deadline = Date.now() + (o.waitMs ?? 10_000);
  for (;;) {
    const found = await handle.query(routingChangeOutcomeQuery, id).catch(() => null);
    if (found) return found;
    if (Date.now() >= deadline) return { id, status: 'pending' };
    await sleep(100);
  }
}

function invalid(what: string, error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): InvalidRequest {
  const issues = zodIssues(error);
  return new InvalidRequest(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/**
 * Send any routing update (schema-checked here; checked against the providers by the workflow)
 * and wait for its outcome. Throws InvalidRequest when the update is malformed: nothing is sent.
 */
export async function applyRoutingUpdate(o: RoutingClientOptions, update: RoutingUpdate): Promise<RoutingChangeResult> {
  const withId = { ...update, id: update.id ?? randomUUID() };
  const parsed = RoutingUpdateSchema.safeParse(withId);
  if (!parsed.success) throw invalid('routing update', parsed.error);
  const handle = await o.client.workflow.signalWithStart<typeof routingPolicyWorkflow, [RoutingUpdate]>(ROUTING_POLICY_WORKFLOW_TYPE, {
    ...startOptions(o),
    signal: applyRoutingUpdateSignal,
    signalArgs: [withId],
  });
  return awaitOutcome(o, handle, withId.id);
}

/**
 * Announce a worker's config.yaml routing base (runtime.routingBase) to the routing-policy workflow,
 * starting the workflow when absent (signalWithStart). Returns once the server has the signal;
 * it never waits for a worker. A different base becomes a new version (source config.yaml);
 * the same base changes nothing. With `wait`, waits up to waitMs for the outcome (tests).
 */
export async function applyBaseConfig(o: RoutingClientOptions, announced: RoutingBaseConfig, wait = false): Promise<RoutingChangeResult> {
  const withId = { ...announced, id: announced.id ?? `${announced.source}:${randomUUID()}` };
  const handle = await o.client.workflow.signalWithStart<typeof routingPolicyWorkflow, [RoutingBaseConfig]>(ROUTING_POLICY_WORKFLOW_TYPE, {
    ...startOptions(o),
    signal: applyBaseConfigSignal,
    signalArgs: [withId],
  });
  return wait ? awaitOutcome(o, handle, withId.id) : { id: withId.id, status: 'pending' };
}

export interface SetRuleInput {
  rule: RoutingRuleInput;
  /** Default 'sdk'. */
  source?: string;
  reason: string;
}

/** Add a rule, or replace the one with its id or its (task type, complexity). */
export function setRule(o: RoutingClientOptions, { rule, source, reason }: SetRuleInput): Promise<RoutingChangeResult> {
  return applyRoutingUpdate(o, { kind: 'set_rule', rule, source: source ?? 'sdk', reason });
}

export interface RollbackInput {
  version: number;
  /** Default 'sdk'. */
  source?: string;
  reason?: string;
}

/** Make an earlier version's content current again (recorded as a new version). */
export async function rollback(o: RoutingClientOptions, input: RollbackInput): Promise<RoutingChangeResult> {
  const id = randomUUID();
  const payload: RoutingRollback = { version: input.version, source: input.source ?? 'sdk', reason: input.reason ?? 'rollback requested', id };
  const parsed = RoutingRollbackSchema.safeParse(payload);
  if (!parsed.success) throw invalid('rollback', parsed.error);
  const handle = await o.client.workflow.signalWithStart<typeof routingPolicyWorkflow, [RoutingRollback]>(ROUTING_POLICY_WORKFLOW_TYPE, {
    ...startOptions(o),
    signal: rollbackRoutingPolicySignal,
    signalArgs: [payload],
  });
  return awaitOutcome(o, handle, id);
}
