/**
 * Testing your own code with the testing kit (README: Testing your own code). This file is what a
 * project built on the orchestrator writes: it checks ITS routing rule and ITS consensus strategy
 * through the real request path (client validation, the request workflow, planning, the fan-out,
 * consensus, the database), with scripted providers instead of real ones.
 *
 *   createTestOrchestrator({ configure, setup })   a Temporal dev server of its own, a worker with
 *                                                  a MockModelConnector per provider, a temp SQLite
 *   kit.mock('openai').reply(...) / .fail(...)     what each provider answers, call by call
 *   kit.processRequest(request)                    exactly as OrchestratorClient.processRequest
 *
 * It runs under Vitest here (npm test) and the same code runs under Jest (test/jest/).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema';
import { createTestOrchestrator, type TestOrchestrator } from 'temporal-llm-orchestrator/testing';
import { MajorityAnswerStrategy } from './majority-strategy';

/** The application's configuration: the shipped config.yaml plus its own rule and strategy. */
function myConfig(config: Config): Config {
  return {
    ...config,
    routing: {
      ...config.routing,
      // Contract reviews go to anthropic and google together, decided by our strategy.
      rules: [...config.routing.rules, { id: 'contract-review', task_type: 'contract_review', complexity: 'any', providers: ['anthropic', 'google'], require_consensus: true, fallback: [] }],
    },
    consensus: {
      ...config.consensus,
      task_types: { ...config.consensus.task_types, contract_review: 'majority-answer' },
      // Declared so the client accepts the name; registered in the worker by `setup` below.
      strategies: Object.assign({}, config.consensus.strategies, { 'majority-answer': {} }),
      // No escalation: the two providers of the rule decide.
      escalation: { ...config.consensus.escalation, enabled: false },
    },
  };
}

let n = 0;
const review = (prompt: string) => ({ prompt, taskType: 'contract_review', userId: 'legal-team', requestId: `contract-${Date.now().toString(36)}-${n++}` });

describe('my routing rule and my consensus strategy', () => {
  let kit: TestOrchestrator;
  beforeAll(async () => {
    kit = await createTestOrchestrator({
      configure: myConfig,
      setup: (runtime) => runtime.consensus.registerStrategy('majority-answer', new MajorityAnswerStrategy()),
    });
  });
  afterAll(async () => {
    await kit?.close();
  });
  beforeEach(() => {
    for (const provider of ['openai', 'anthropic', 'google']) kit.mock(provider).reset();
  });

  it('routes a contract review to the providers of my rule, and only to them', async () => {
    kit.mock('anthropic').reply('Approve.');
    kit.mock('google').reply('approve');
    const result = await kit.processRequest(review('Review clause 7 of this supply contract.'));
    expect(result.metadata.routingRule).toBe('contract-review');
    expect([...result.metadata.providersUsed].sort()).toEqual(['anthropic', 'google']);
    expect(kit.mock('openai').calls).toHaveLength(0);
    expect(kit.mock('anthropic').calls[0]!.prompt).toBe('Review clause 7 of this supply contract.');
  });

  it('my strategy picks the shared answer and reports full agreement', async () => {
    kit.mock('anthropic').reply('Approve.');
    kit.mock('google').reply('approve');
    const result = await kit.processRequest(review('Review the payment terms.'));
    expect(result.response).toBe('Approve.');
    expect(result.metadata).toMatchObject({ consensusApplied: true, consensusStrategy: 'majority-answer', confidence: 1, agreement: 1, dissenting: [], lowConfidence: false });
  });

  it('when the providers disagree, my strategy has no majority and the answer is flagged', async () => {
    kit.mock('anthropic').reply('Approve.');
    kit.mock('google').reply('Reject: clause 9 is missing.');
    const result = await kit.processRequest(review('Review the liability cap.'));
    expect(result.metadata).toMatchObject({ consensusStrategy: 'majority-answer', confidence: 0.5, thresholdMet: false, lowConfidence: true });
    expect(result.metadata.dissenting).toHaveLength(1);
  });

  it('a provider that fails is retried like a real one, and my rule still decides who is asked', async () => {
    kit.mock('anthropic').fail('ProviderOverloaded', { status: 529 }).reply('Approve.');
    kit.mock('google').reply('Approve.');
    const result = await kit.processRequest(review('Review the termination clause.'));
    expect(result.response).toBe('Approve.');
    expect(kit.mock('anthropic').calls.map((c) => c.outcome)).toEqual(['ProviderOverloaded', 'answered']);
    const stored = await kit.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls.find((c) => c.provider === 'anthropic')).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a rule added at run time takes over the task type', async () => {
    await kit.addRoutingRule({ id: 'contract-review-openai', task_type: 'contract_review', complexity: 'any', providers: ['openai'] }, { reason: 'one provider is enough' });
    kit.mock('openai').reply('Approve.');
    const result = await kit.processRequest(review('Review the renewal clause.'));
    expect(result.metadata.routingRule).toBe('contract-review-openai');
    expect(result.metadata.providersUsed).toEqual(['openai']);
    expect(kit.mock('anthropic').calls).toHaveLength(0);
  });
});
