/**
 * improvement.applied: emitted by recordProposalDecision once an applied proposal is recorded
 * (with the stored proposal's kind and policy version, and the activity's attempt), never for a
 * rejected or merely accepted one, and never when recording fails.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createImprovementActivities, type ImprovementActivityDependencies, type ProposalDecisionRecord } from '../../activities/improvement';
import { EventHooks, type OrchestratorEvents } from '../../src/hooks';
import type { ImprovementStore, StoredProposal } from '../../src/improvement/store';
import { repoConfig } from '../helpers/config';

function proposal(id: string, status: StoredProposal['status'], appliedVersion: number | null): StoredProposal {
  return { id, kind: 'demote', status, appliedVersion } as StoredProposal;
}

function activitiesWith(hooks: EventHooks, failing = false) {
  const store = {
    markProposal: (id: string, d: { status: 'applied' | 'accepted'; appliedVersion: number | null }) => (failing ? Promise.reject(new Error('database away')) : Promise.resolve(proposal(id, d.status, d.appliedVersion))),
    rejectProposal: (id: string) => Promise.resolve(proposal(id, 'rejected', null)),
  } as unknown as ImprovementStore;
  const deps: ImprovementActivityDependencies = { config: repoConfig(), store, hooks };
  return createImprovementActivities(deps);
}

describe('improvement.applied', () => {
  it('fires once an applied proposal is recorded, not for a rejected or accepted one', async () => {
    const hooks = new EventHooks();
    const seen: OrchestratorEvents['improvement.applied'][] = [];
    hooks.on('improvement.applied', (e) => void seen.push(e));
    const activities = activitiesWith(hooks);
    const env = new MockActivityEnvironment({ attempt: 2 });
    const decide = (record: ProposalDecisionRecord) => env.run(activities.recordProposalDecision, record);
    await decide({ proposalId: 'p-applied', status: 'applied', decidedBy: 'auto', appliedVersion: 7, outcome: 'accepted as routing policy v7' });
    await decide({ proposalId: 'p-rejected', status: 'rejected', decidedBy: 'alice', appliedVersion: null, outcome: 'no' });
    await decide({ proposalId: 'p-accepted', status: 'accepted', decidedBy: 'alice', appliedVersion: null, outcome: 'a configuration change' });
    await hooks.flush();
    expect(seen).toEqual([{ proposalId: 'p-applied', kind: 'demote', policyVersion: 7, attempt: 2, at: expect.any(Number) as number }]);
  });

  it('does not fire when recording the decision fails', async () => {
    const hooks = new EventHooks();
    let fired = 0;
    hooks.on('improvement.applied', () => void (fired += 1));
    const env = new MockActivityEnvironment();
    const record: ProposalDecisionRecord = { proposalId: 'p1', status: 'applied', decidedBy: 'auto', appliedVersion: 3, outcome: 'x' };
    await expect(env.run(activitiesWith(hooks, true).recordProposalDecision, record)).rejects.toThrow(/database away/);
    await hooks.flush();
    expect(fired).toBe(0);
  });
});
