/**
 * One "worker process" for concurrency-processes.test.ts: waits for a common start time, then
 * makes its acquires concurrently against the shared database and prints how many were granted.
 * Granted leases are kept (not released), so the parent can count them.
 *
 *   tsx test/resilience/lease-worker.ts <databaseUrl> <label> <count> <startAtMs> <max>
 */
import { createPrismaClient } from '../../src/memory/client';
import { createConcurrencyLimiter } from '../../src/resilience/concurrency';

async function main(): Promise<void> {
  const [url, label, count, startAt, max] = process.argv.slice(2);
  if (!url || !label || !count || !startAt || !max) throw new Error('usage: lease-worker.ts <databaseUrl> <label> <count> <startAtMs> <max>');
  const client = createPrismaClient(url, { busyTimeoutMs: 20_000 });
  const limiter = createConcurrencyLimiter({ client, url });
  await client.$queryRaw`SELECT 1`; // connected before the race starts
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
  const now = new Date('2026-11-25T10:00:00.000Z');
  const results = await Promise.allSettled(
    Array.from({ length: Number(count) }, (_, i) => limiter.acquire({ scope: 'provider:shared', max: Number(max), leaseMs: 60_000, holder: `${label}-${i}`, now })),
  );
  const unexpected = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  const granted = results.filter((r) => r.status === 'fulfilled' && r.value.granted).length;
  const refused = results.filter((r) => r.status === 'fulfilled' && !r.value.granted).length;
  await client.$disconnect();
  process.stdout.write(`${JSON.stringify({ granted, refused, unexpected })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
