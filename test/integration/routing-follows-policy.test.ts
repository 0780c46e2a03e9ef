/**
 * The routing-policy workflow drives real requests: a signal changes the policy, the worker's
 * policy cache picks the new version up within seconds, and the next requests are planned with
 * it (recorded version, providers called). Rollback brings the earlier route back. Under
 * performance_based routing the decision record is in the result and in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRoutingUpdate, ensureRoutingPolicyWorkflow, rollback, showRouting, type RoutingChangeResult, type RoutingClientOptions } from '../../client/routing';
import type { RoutingDecision } from '../../src/routing/bandit';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
let o: RoutingClientOptions;
const run = Date.now().toString(36);

beforeAll(async () => {
  stack = await startStack({ label: 'routing-follows', policyRefreshMs: 200 });
  o = { client: stack.temporal.client, taskQueue: stack.temporal.taskQueue, workflowId: stack.routingPolicyWorkflowId };
  await ensureRoutingPolicyWorkflow(o);
  // The worker started before the workflow: wait until it plans with the workflow's seed.
  await planningWith((await showRouting(o)).policy.version);
});
afterAll(async () => {
  await stack?.close();
});

function accepted(r: RoutingChangeResult): number {
  if (r.status !== 'accepted') throw new Error(`expected the change to be accepted, got ${JSON.stringify(r)}`);
  return r.version;
}

/** Wait until the worker plans with `version` (the cache refreshes every 200 ms here). */
async function planningWith(version: number): Promise<number> {
  const started = Date.now();
  while (stack.runtime.policyCache.current().version !== version) {
    if (Date.now() - started > 10_000) throw new Error(`worker still plans with v${stack.runtime.policyCache.current().version}, not v${version}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

const ask = (n: number) =>
  stack.client.processRequest({ prompt: `Name a planet (${n}).`, taskType: 'question_answering', userId: 'user-routing', requireConsensus: false, requestId: `routing-follows-${run}-${n}` });

describe('requests follow the routing-policy workflow', () => {
  it('a demotion signal moves the next requests to another provider; rollback moves them back', async () => {
    const before = await ask(1);
    expect(before.metadata.providersUsed).toEqual(['openai']);

    const demoted = accepted(await applyRoutingUpdate(o, { kind: 'demote', target: 'openai', source: 'test:routing', reason: 'openai degraded' }));
    const tookMs = await planningWith(demoted);
    expect(tookMs).toBeLessThan(5_000);

    const after = await ask(2);
    expect(after.metadata.routingPolicyVersion).toBe(demoted);
    expect(after.metadata.providersUsed).toEqual(['anthropic']);
    const stored = await stack.runtime.memory.getInteraction(after.metadata.workflowId);
    expect(stored).toMatchObject({ routingPolicyVersion: demoted, providersUsed: ['anthropic'] });

    const restored = accepted(await rollback(o, { version: before.metadata.routingPolicyVersion, source: 'test:routing', reason: 'openai recovered' }));
    await planningWith(restored);
    const back = await ask(3);
    expect(back.metadata.routingPolicyVersion).toBe(restored);
    expect(back.metadata.providersUsed).toEqual(['openai']);
  });

  it('performance_based routing records the decision: candidates, scores, choice and policy version', async () => {
    const version = accepted(await applyRoutingUpdate(o, { kind: 'set_strategy', strategy: 'performance_based', source: 'test:routing', reason: 'learn from history' }));
    await planningWith(version);
    const result = await ask(4);
    const decision = result.metadata.routingDecision as RoutingDecision;
    expect(decision).not.toBeNull();
    expect(decision.policyVersion).toBe(version);
    expect(decision.candidates.map((c) => c.provider).sort()).toEqual(['anthropic', 'google', 'openai']);
    expect(decision.ranking).toHaveLength(3);
    // The provider called is the one the decision put first.
    expect(result.metadata.providersUsed).toEqual([decision.chosen!.split(':')[0]]);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.routingDecision).toEqual(decision);
  });
});
