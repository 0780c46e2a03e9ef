/**
 * Rows for the improvement store and workflow tests, written straight through Prisma so that every
 * column the improvement loop reads (dissent, consensus met, experiment and variant, feedback) can
 * be set, whatever the request workflow records today.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InteractionRow } from '../../src/improvement/analysis';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';

export interface ScratchSqlite {
  url: string;
  db: DatabaseClient;
  close(): Promise<void>;
}

export async function scratchSqlite(label: string): Promise<ScratchSqlite> {
  const dir = mkdtempSync(join(tmpdir(), `improvement-${label}-`));
  const url = `file:${join(dir, 'improvement.db')}`;
  await applyMigrations(url);
  const db = createPrismaClient(url);
  return {
    url,
    db,
    async close() {
      await db.$disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Write analysis rows (synthetic.ts) as Interaction, ProviderCall and Feedback rows. */
export async function insertRows(db: DatabaseClient, rows: readonly InteractionRow[], extra: { prompt?: string; systemPrompt?: string | null; response?: string } = {}): Promise<void> {
  for (const r of rows) {
    await db.interaction.create({
      data: {
        id: r.id,
        workflowId: `llm-request-${r.id}-${randomUUID().slice(0, 6)}`,
        requestId: r.id,
        userId: 'u1',
        taskType: r.taskType,
        complexity: r.complexity,
        complexityScore: 0.5,
        prompt: extra.prompt ?? `prompt of ${r.id}`,
        systemPrompt: r.systemPrompt ?? extra.systemPrompt ?? null,
        response: r.status === 'completed' ? (extra.response ?? `answer of ${r.id}`) : null,
        confidence: r.confidence,
        agreement: r.agreement,
        consensusStrategy: 'lexical',
        consensusApplied: r.consensusApplied,
        status: r.status,
        routingPolicyVersion: 1,
        thresholdMet: r.thresholdMet,
        ...(r.dissenting !== null && { dissenting: r.dissenting }),
        experimentId: r.experimentId,
        variant: r.variant,
        providersUsed: r.calls.filter((c) => c.status === 'succeeded').map((c) => c.provider),
        tokensIn: 10,
        tokensOut: 20,
        costUsd: r.costUsd,
        processingTimeMs: r.processingTimeMs,
        startedAt: new Date(Date.parse(r.completedAt) - r.processingTimeMs),
        completedAt: new Date(r.completedAt),
        providerCalls: {
          create: r.calls.map((c, i) => ({
            callIndex: i,
            provider: c.provider,
            model: c.model,
            attempts: 1,
            status: c.status,
            hedged: c.hedged,
            errorType: c.errorType,
            errorMessage: c.errorType,
            latencyMs: c.latencyMs,
            tokensIn: 10,
            tokensOut: 20,
            costUsd: c.costUsd,
          })),
        },
        feedback: { create: r.feedback.map((score) => ({ score, source: 'test' })) },
      },
    });
  }
}
