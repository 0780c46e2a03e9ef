/**
 * One "worker process" for budget-processes.test.ts: waits for a common start time, then makes
 * its reserves concurrently against the shared database and prints how many were granted.
 *
 *   tsx test/resilience/reserve-worker.ts <databaseUrl> <label> <count> <startAtMs> <perUserUsd>
 */
import { BudgetExceeded } from '../../src/errors';
import { createPrismaClient } from '../../src/memory/client';
import { createBudgetLedger } from '../../src/resilience/budget';

async function main(): Promise<void> {
  const [url, label, count, startAt, perUserUsd] = process.argv.slice(2);
  if (!url || !label || !count || !startAt || !perUserUsd) throw new Error('usage: reserve-worker.ts <databaseUrl> <label> <count> <startAtMs> <perUserUsd>');
  const client = createPrismaClient(url, { busyTimeoutMs: 20_000 });
  const ledger = createBudgetLedger({ client, url }, { quotas: { period: 'day' }, budgets: { period: 'month', perUserUsd: Number(perUserUsd) } });
  await client.$queryRaw`SELECT 1`; // connected before the race starts
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
  const now = new Date('2026-11-25T10:00:00.000Z');
  const results = await Promise.allSettled(
    Array.from({ length: Number(count) }, (_, i) => ledger.reserve({ workflowId: `llm-request-${label}-${i}`, userId: 'shared-user', estimatedUsd: 0.2, estimatedTokens: 1, now })),
  );
  const unexpected = results.flatMap((r) => (r.status === 'rejected' && !(r.reason instanceof BudgetExceeded) ? [String(r.reason)] : []));
  await client.$disconnect();
  process.stdout.write(`${JSON.stringify({ granted: results.filter((r) => r.status === 'fulfilled').length, refused: results.length - results.filter((r) => r.status === 'fulfilled').length - unexpected.length, unexpected })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
