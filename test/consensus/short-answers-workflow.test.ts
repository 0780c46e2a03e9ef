/**
 * Issue 10 item 9 end to end: real requests through the real workflow, worker, activities and the
 * provider emulator (whose models answer arithmetic wrongly on demand, `answer=wrong`), decided by
 * the default strategy. The metadata's `thresholdMet` and `lowConfidence` never contradict each
 * other, and arithmetic answers are decided by their numbers. Needs the test services and the
 * embedding model (`npm test` provides both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrchestrationMetadata } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
const run = Date.now().toString(36);

beforeAll(async () => {
  stack = await startStack({ label: 'short-answers' });
});
afterAll(async () => {
  await stack?.close();
});

/** The documented relation (README, Consensus): lowConfidence = consensus required and thresholdMet false. */
function expectConsistent(m: OrchestrationMetadata, requireConsensus: boolean): void {
  expect(m.consensusApplied).toBe(true);
  expect(typeof m.thresholdMet).toBe('boolean');
  expect(m.thresholdMet && m.lowConfidence, 'thresholdMet and lowConfidence both true').toBe(false);
  expect(m.lowConfidence).toBe(requireConsensus && m.thresholdMet === false);
  // thresholdMet includes consensus.confidence_threshold.
  if (m.thresholdMet) expect(m.confidence!).toBeGreaterThanOrEqual(stack.config.consensus.confidence_threshold);
}

describe('default strategy through the workflow (emulator)', () => {
  it('three different numbers (32, 41, 42 for "What is 40 + 2?"): decided by vote, no majority, threshold not met, flagged low confidence', async () => {
    const { metadata: m } = await stack.client.processRequest({
      prompt: 'What is 40 + 2? [[emulate@gpt-4o-mini:answer=wrong]] [[emulate@claude-haiku-4-5:answer=wrong]]',
      taskType: 'question_answering',
      userId: 'user-short-answers',
      requireConsensus: true,
      requestId: `short-answers-apart-${run}`,
    });
    expect(m.consensusStrategy).toBe('similarity');
    expectConsistent(m, true);
    // Escalation may add a provider; even then no answer has a strict majority.
    expect(m.thresholdMet).toBe(false);
    expect(m.lowConfidence).toBe(true);
    expect(m.consensusDetails).toMatchObject({ strategy: 'similarity', decidedBy: 'extracted-answer vote' });
    const stored = await stack.runtime.memory.getInteraction(m.workflowId);
    expect(stored).toMatchObject({ thresholdMet: false, lowConfidence: true });
  });

  it('42, 41, 42 all answered: 42 is the answer and the provider of 41 dissents; two of three is below the shipped confidence_threshold 0.7, and both flags say so', async () => {
    // 41 arrives first, so early stop cannot end the request before the third answer.
    const result = await stack.client.processRequest({
      prompt: 'What is 40 + 2? [[emulate@claude-haiku-4-5:answer=wrong,latency=1]] [[emulate@gemini-2.0-flash:latency=400]]',
      taskType: 'question_answering',
      userId: 'user-short-answers',
      requireConsensus: true,
      requestId: `short-answers-majority-${run}`,
    });
    const m = result.metadata;
    expect(result.response).toMatch(/the answer is 42\b/);
    expect(m.consensusDetails).toMatchObject({ strategy: 'similarity', decidedBy: 'extracted-answer vote', support: 2 });
    expect(m.dissenting).toEqual(['anthropic']);
    expectConsistent(m, true);
    // The three enabled providers all answered: escalation has nobody left to ask.
    expect(m.escalated).toBe(0);
    expect(m.confidence).toBeCloseTo(2 / 3, 3);
    expect(m.thresholdMet).toBe(false);
    expect(m.lowConfidence).toBe(true);
  });

  it('42 and 42 first, 41 slow: early stop ends it on two agreeing answers, threshold met, not low confidence', async () => {
    const result = await stack.client.processRequest({
      prompt: 'What is 40 + 2? [[emulate@claude-haiku-4-5:answer=wrong,latency=5000]]',
      taskType: 'question_answering',
      userId: 'user-short-answers',
      requireConsensus: true,
      requestId: `short-answers-early-${run}`,
    });
    const m = result.metadata;
    expect(result.response).toMatch(/the answer is 42\b/);
    expect(m.consensusDetails).toMatchObject({ strategy: 'similarity', decidedBy: 'extracted-answer vote' });
    expect(m.cancelledCalls).toBe(1);
    expect(m.confidence).toBe(1);
    expect(m.thresholdMet).toBe(true);
    expect(m.lowConfidence).toBe(false);
    expectConsistent(m, true);
  });

  it('without required consensus: the threshold may be unmet, and nothing is flagged', async () => {
    const { metadata: m } = await stack.client.processRequest({
      prompt: 'What is 40 + 2? [[emulate@gpt-4o-mini:answer=wrong]] [[emulate@claude-haiku-4-5:answer=wrong]]',
      taskType: 'question_answering',
      userId: 'user-short-answers',
      requireConsensus: false,
      minProviders: 3,
      requestId: `short-answers-unrequired-${run}`,
    });
    expect(m.thresholdMet).toBe(false);
    expect(m.lowConfidence).toBe(false);
    expectConsistent(m, false);
  });
});
