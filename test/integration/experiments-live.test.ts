/**
 * A/B experiments on live traffic: requests of the experiment's task type are assigned to a
 * variant deterministically by request id, run with that variant (consensus strategy, routing
 * update), and the assignment is recorded on the interaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignVariant } from '../../src/improvement/assignment';
import { createImprovementStore, type ImprovementStore } from '../../src/improvement/store';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
let db: DatabaseClient;
let store: ImprovementStore;
const run = Date.now().toString(36);

beforeAll(async () => {
  stack = await startStack({ label: 'experiments' });
  db = createPrismaClient(stack.databaseUrl);
  store = createImprovementStore(db, stack.databaseUrl);
});
afterAll(async () => {
  await db?.$disconnect();
  await stack?.close();
});

describe('experiments on live traffic', () => {
  it('assigns by request id, runs each request with its variant, and records the assignment', async () => {
    const experiment = await store.createExperiment({
      id: `consensus-ab-${run}`,
      name: 'voting vs similarity for trivia',
      kind: 'consensus_strategy',
      taskType: 'trivia',
      variants: [
        { name: 'control', share: 0.5, config: { strategy: 'similarity' } },
        { name: 'voting', share: 0.5, config: { strategy: 'voting' } },
      ],
      trafficShare: 1,
      minSamples: 20,
      createdBy: 'test',
    });
    await stack.runtime.experiments.refresh();

    // Eight request ids, at least one per variant: ids differ between runs (workflow ids are unique
    // on a shared server), and eight at 50/50 all land on one variant once in 128 runs.
    const ids = Array.from({ length: 8 }, (_, i) => `exp-${run}-${i}`);
    if (new Set(ids.map((id) => assignVariant(experiment, id))).size < 2) {
      const first = assignVariant(experiment, ids[0]!);
      let k = ids.length;
      while (assignVariant(experiment, `exp-${run}-${k}`) === first) k++;
      ids[ids.length - 1] = `exp-${run}-${k}`;
    }
    const seen = new Set<string>();
    for (const requestId of ids) {
      const result = await stack.client.processRequest({ prompt: `What is ${ids.indexOf(requestId) + 2} * 3?`, taskType: 'trivia', userId: 'user-exp', requireConsensus: true, requestId });
      const expected = assignVariant(experiment, requestId);
      expect(expected).not.toBeNull();
      seen.add(expected!);
      expect(result.metadata.consensusStrategy).toBe(expected === 'voting' ? 'voting' : 'similarity');
      const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
      expect(stored).toMatchObject({ experimentId: experiment.id, variant: expected });
    }
    // Both variants ran, each with its own strategy (checked per request above).
    expect([...seen].sort()).toEqual(['control', 'voting']);

    // Other task types are not in the experiment.
    const other = await stack.client.processRequest({ prompt: 'Name a color.', taskType: 'question_answering', userId: 'user-exp', requestId: `exp-other-${run}` });
    expect(await stack.runtime.memory.getInteraction(other.metadata.workflowId)).toMatchObject({ experimentId: null, variant: null });
  });

  it('a routing variant plans with its update on top of the current policy', async () => {
    const experiment = await store.createExperiment({
      id: `routing-ab-${run}`,
      name: 'demote openai for lookups',
      kind: 'routing_policy',
      taskType: 'lookup',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'no-openai', share: 0.5, config: { update: { kind: 'demote', target: 'openai' } } },
      ],
      trafficShare: 1,
      minSamples: 20,
      createdBy: 'test',
    });
    await stack.runtime.experiments.refresh();
    for (let i = 0; i < 6; i++) {
      const requestId = `exp-route-${run}-${i}`;
      const result = await stack.client.processRequest({ prompt: `Name a city (${i}).`, taskType: 'lookup', userId: 'user-exp', requireConsensus: false, requestId });
      const variant = assignVariant(experiment, requestId);
      expect(result.metadata.providersUsed).toEqual([variant === 'no-openai' ? 'anthropic' : 'openai']);
    }
  });
});
