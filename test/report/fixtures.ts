/**
 * A report database with known contents (test/report/report.test.ts, scripts/screenshot-report.ts):
 * 48 requests over the 24 hours before END, two providers, two routing policy versions, an applied
 * proposal and a running experiment with its stored analysis.
 */
import type { DatabaseClient } from '../../src/memory/client';

export const END = new Date('2026-11-30T12:00:00Z');
const HOUR = 3_600_000;
export const at = (hoursBeforeEnd: number) => new Date(END.getTime() - hoursBeforeEnd * HOUR);
export const PROMPT = 'PROMPT-TEXT-must-not-appear';
export const ANSWER = 'ANSWER-TEXT-must-not-appear';
export const USER_ID = 'user-secret-id';
/** A provider name (and a policy reason) that would run script if the page did not escape it. */
export const EVIL = '<img src=x onerror="window.__pwned=1">';

/** 48 interactions over 24 h, each with an openai and an anthropic call (every 6th failed), and one call by a provider with a hostile name. */
export async function seedReportDb(db: DatabaseClient, options: { hostileNames?: boolean } = {}): Promise<void> {
  const evil = options.hostileNames === false ? null : EVIL;
  for (let i = 0; i < 48; i++) {
    const completedAt = at(23.75 - i * 0.5);
    const failed = i % 6 === 0;
    await db.interaction.create({
      data: {
        workflowId: `llm-request-report-${i}`,
        userId: USER_ID,
        taskType: 'code_generation',
        complexity: 'simple',
        complexityScore: 0.3,
        prompt: PROMPT,
        response: failed ? null : ANSWER,
        agreement: i % 2 === 0 ? 0.95 : 0.35,
        confidence: 0.8,
        consensusStrategy: 'lexical',
        consensusApplied: true,
        status: failed ? 'failed' : 'completed',
        routingPolicyVersion: 1,
        providersUsed: ['openai', 'anthropic'],
        tokensIn: 10,
        tokensOut: 20,
        costUsd: 0.003,
        processingTimeMs: 400,
        startedAt: new Date(completedAt.getTime() - 400),
        completedAt,
        providerCalls: {
          create: [
            { callIndex: 0, provider: 'openai', model: 'gpt-4o', attempts: 1, status: failed ? 'failed' : 'succeeded', latencyMs: 100 + i, tokensIn: 10, tokensOut: 20, costUsd: 0.001, createdAt: completedAt },
            { callIndex: 1, provider: 'anthropic', model: 'claude', attempts: 1, status: 'succeeded', latencyMs: 300 + i, tokensIn: 10, tokensOut: 20, costUsd: 0.002, createdAt: completedAt },
            ...(i === 10 && evil !== null ? [{ callIndex: 2, provider: evil, model: 'x', attempts: 1, status: 'succeeded', latencyMs: 50, tokensIn: 1, tokensOut: 1, costUsd: 0.0005, createdAt: completedAt }] : []),
          ],
        },
      },
    });
  }
  await db.routingPolicyVersion.create({ data: { version: 7, policy: {}, configHash: 'h', source: 'optimizer', reason: evil === null ? 'demote openai: error rate up' : `demote ${evil}`, createdAt: at(12) } });
  await db.routingPolicyVersion.create({ data: { version: 8, policy: {}, configHash: 'h', source: 'update:cli', reason: 'rule', createdAt: at(4) } });
  await db.improvementReport.create({ data: { id: 'rep-1', workflowId: 'improvement-manual-1', windowStart: at(48), windowEnd: at(12.5), report: {}, createdAt: at(12.5) } });
  await db.proposal.create({ data: { id: 'prop-1', reportId: 'rep-1', kind: 'demote', change: { systemPrompt: PROMPT }, evidence: {}, confidence: 0.97, dataPoints: 200, status: 'applied', appliedVersion: 7, createdAt: at(12.5) } });
  const variant = (name: string, samples: number, goodRate: number) => ({ name, samples, successRate: 1, goodRate, latencyP50Ms: 100, latencyP95Ms: 200, meanCostUsd: 0.001 });
  await db.experiment.create({
    data: {
      id: 'exp-prompts',
      name: 'system prompt trial',
      kind: 'prompt_template',
      taskType: 'code_generation',
      variants: [
        { name: 'control', share: 0.5, config: { systemPrompt: PROMPT } },
        { name: 'terse', share: 0.5, config: { systemPrompt: PROMPT } },
      ],
      trafficShare: 0.2,
      minSamples: 200,
      status: 'running',
      createdBy: 'test',
      createdAt: at(30),
      result: {
        looks: [],
        analysis: {
          experimentId: 'exp-prompts',
          at: at(1).toISOString(),
          control: 'control',
          variants: [variant('control', 100, 0.6), variant('terse', 120, 0.75)],
          comparisons: [{ variant: 'terse', good: null, probabilityBetter: 0.991, errorRate: null, cost: null, latency: null }],
          look: {},
          alphaPerComparison: 0.01,
          action: 'continue',
          winner: null,
          reason: 'not significant at this look',
          guardrail: null,
        },
      },
    },
  });
}

