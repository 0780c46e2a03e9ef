/**
 * Read-only queries for routing: provider calls joined with their interaction (the input of the
 * running statistics, src/routing/stats.ts) and routing policy versions by number or by change key.
 * A separate module over the Prisma client, beside the MemoryStore (repository.ts), which it
 * does not change.
 */
import { ComplexitySchema } from '../types';
import type { ProviderCallStatRow, ProviderStatsSource } from '../routing/stats';
import { createPrismaClient, type CreatePrismaClientOptions, type DatabaseClient } from './client';
import { databaseConnectionError, isConnectionError, parseDatabaseUrl } from './database-url';
import type { PolicyVersion } from './repository';

export interface StatsQueries extends ProviderStatsSource {
  /** The stored version with this number, or null. */
  policyVersion(version: number): Promise<PolicyVersion | null>;
  /** The oldest stored version whose configHash column holds this key, or null. */
  policyVersionByKey(key: string): Promise<PolicyVersion | null>;
}

export interface StatsQueriesHandle extends StatsQueries {
  /** Closes the client only when this module created it. */
  close(): Promise<void>;
}

type VersionRow = NonNullable<Awaited<ReturnType<DatabaseClient['routingPolicyVersion']['findFirst']>>>;

function versionFromRow(row: VersionRow): PolicyVersion {
  return { version: row.version, policy: row.policy, configHash: row.configHash, source: row.source, reason: row.reason, createdAt: row.createdAt.toISOString() };
}

/**
 * Quality of a succeeded call of a consensus interaction: 1 when its provider sided with the chosen
 * answer, 0 when it dissented (Interaction.dissenting). Interactions stored before dissent was
 * recorded fall back to the interaction's confidence (the share that sided with the chosen answer).
 * Null for failed calls and single-provider answers.
 */
function qualityOf(call: { status: string; provider: string }, interaction: { consensusApplied: boolean; confidence: number | null; dissenting: unknown }): number | null {
  if (call.status !== 'succeeded' || !interaction.consensusApplied) return null;
  if (Array.isArray(interaction.dissenting)) return interaction.dissenting.includes(call.provider) ? 0 : 1;
  return interaction.confidence;
}

/** Mean explicit feedback score of an interaction's answer, for the call that gave it (null without feedback). */
function feedbackOf(call: { status: string; provider: string }, interaction: { providersUsed: unknown; dissenting: unknown; feedback: { score: number }[] }): number | null {
  if (call.status !== 'succeeded' || interaction.feedback.length === 0) return null;
  // The answer came from a provider that did not dissent; feedback on it says nothing about a dissenter.
  if (Array.isArray(interaction.dissenting) && interaction.dissenting.includes(call.provider)) return null;
  return interaction.feedback.reduce((s, f) => s + f.score, 0) / interaction.feedback.length;
}

export function createStatsQueries(db: DatabaseClient, databaseUrl?: string): StatsQueries {
  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (databaseUrl !== undefined && isConnectionError(error)) throw databaseConnectionError(parseDatabaseUrl(databaseUrl).url, error, action);
      throw error;
    }
  }

  return {
    providerCallRows: ({ since, limit }) =>
      guard('read provider calls for routing statistics', async () => {
        if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
        const rows = await db.providerCall.findMany({
          where: { status: { not: 'cancelled' }, ...(since ? { interaction: { completedAt: { gte: since } } } : {}) },
          orderBy: [{ interaction: { completedAt: 'desc' } }, { callIndex: 'desc' }],
          take: limit,
          select: {
            provider: true,
            model: true,
            status: true,
            latencyMs: true,
            costUsd: true,
            interaction: {
              select: { taskType: true, complexity: true, completedAt: true, consensusApplied: true, confidence: true, dissenting: true, providersUsed: true, feedback: { select: { score: true } } },
            },
          },
        });
        return rows.reverse().flatMap((r): ProviderCallStatRow[] => {
          const complexity = ComplexitySchema.safeParse(r.interaction.complexity);
          if (!complexity.success) return [];
          return [
            {
              taskType: r.interaction.taskType,
              complexity: complexity.data,
              provider: r.provider,
              model: r.model,
              // A cancelled call (early stop) says nothing about the provider's health.
              status: r.status === 'succeeded' ? 'succeeded' : 'failed',
              // Latency statistics describe answers: a failed call's latency is the time it took to fail.
              latencyMs: r.status === 'succeeded' ? r.latencyMs : null,
              costUsd: r.costUsd,
              at: r.interaction.completedAt,
              quality: qualityOf(r, r.interaction),
              feedback: feedbackOf(r, r.interaction),
            },
          ];
        });
      }),

    policyVersion: (version) =>
      guard('read a routing policy version', async () => {
        const row = await db.routingPolicyVersion.findUnique({ where: { version } });
        return row ? versionFromRow(row) : null;
      }),

    policyVersionByKey: (key) =>
      guard('find a routing policy version', async () => {
        const row = await db.routingPolicyVersion.findFirst({ where: { configHash: key }, orderBy: { version: 'asc' } });
        return row ? versionFromRow(row) : null;
      }),
  };
}

/** Open a client of its own for these queries (closed by `close()`). */
export function openStatsQueries(databaseUrl: string, options: CreatePrismaClientOptions = {}): StatsQueriesHandle {
  const db = createPrismaClient(databaseUrl, options);
  return { ...createStatsQueries(db, databaseUrl), close: () => db.$disconnect() };
}
