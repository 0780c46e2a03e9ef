/**
 * Record improvement workflow histories from real runs (real worker, real improvement and routing
 * activities, SQLite with generated history) into test/histories/, for the replay tests:
 *   improvement-demote-applied.json   a manual run: anomaly, demote proposal applied through an
 *                                     applyRoutingUpdate signal to the routing-policy workflow
 *   improvement-approval.json         a person's approval of a pending demotion (proposalDecisionWorkflow)
 *
 *   TEST_TEMPORAL_PORT=7263 bash scripts/with-test-temporal.sh npx tsx scripts/record-improvement-history.ts
 *
 * Run it after a deliberate, compatible change to workflows/improvement.ts; never edit the JSON by hand.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { createImprovementActivities } from '../activities/improvement';
import { createRoutingActivities } from '../activities/routing';
import { approveProposal, runImprovement } from '../client/improvement';
import { proposalDecisionWorkflowId } from '../src/improvement/constants';
import { createImprovementStore } from '../src/improvement/store';
import { createMemoryStore } from '../src/memory/repository';
import { createStatsQueries } from '../src/memory/stats-queries';
import { ROUTING_POLICY_WORKFLOW_ID } from '../src/routing/constants';
import { testConfig } from '../test/helpers/config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH } from '../test/helpers/temporal';
import { insertRows, scratchSqlite } from '../test/improvement/db-fixtures';
import { HEALTHY, synthetic, withProvider } from '../test/improvement/synthetic';

const HISTORIES = join(__dirname, '..', 'test', 'histories');

async function main(): Promise<void> {
  const temporal = await connectTestTemporal('improvement-recorder');
  const scratch = await scratchSqlite('recorder');
  const config = testConfig({ improvement: { window_hours: 1, min_data_points: 100, auto_apply_threshold: 0.9 } });
  const memory = createMemoryStore(scratch.url, { client: scratch.db });
  const store = createImprovementStore(scratch.db, scratch.url);
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    taskQueue: temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    dataConverter: testDataConverter(),
    activities: { ...createRoutingActivities({ config, memory, queries: createStatsQueries(scratch.db, scratch.url) }), ...createImprovementActivities({ config, store }) },
  });
  const running = worker.run();
  const routingPolicyWorkflowId = `${ROUTING_POLICY_WORKFLOW_ID}-recorder-${randomUUID().slice(0, 8)}`;
  const o = { client: temporal.client, taskQueue: temporal.taskQueue, routingPolicyWorkflowId };
  const save = (workflowId: string, file: string) => {
    const json = execFileSync(process.env['TEMPORAL_CLI'] ?? 'temporal', ['workflow', 'show', '--workflow-id', workflowId, '--address', temporal.address, '--output', 'json'], { encoding: 'utf8' });
    writeFileSync(join(HISTORIES, file), json.endsWith('\n') ? json : `${json}\n`);
    const events = (JSON.parse(json) as { events?: { eventType?: string }[] }).events ?? [];
    console.log(`recorded ${workflowId} -> ${file} (${events.length} events, last ${events.at(-1)?.eventType ?? '?'})`);
  };
  const history = async (end: string, provider: string, label: string) => {
    const endMs = Date.parse(end);
    await insertRows(scratch.db, synthetic({ seed: `${label}-prev`, requests: 200, start: new Date(endMs - 7_200_000).toISOString(), spacingMs: 18_000, providers: HEALTHY, idPrefix: `${label}-prev` }));
    await insertRows(scratch.db, synthetic({ seed: `${label}-cur`, requests: 200, start: new Date(endMs - 3_600_000).toISOString(), spacingMs: 18_000, providers: withProvider(HEALTHY, provider, { errorRate: 0.35 }), idPrefix: `${label}-cur` }));
  };
  try {
    await history('2026-06-01T12:00:00.000Z', 'anthropic', 'auto');
    const auto = await runImprovement(o, { requestedBy: 'recorder', windowEnd: '2026-06-01T12:00:00.000Z' });
    if (auto.result?.applied !== 1) throw new Error(`expected one applied proposal, got ${JSON.stringify(auto.result)}`);
    save(auto.workflowId, 'improvement-demote-applied.json');

    await history('2026-06-02T12:00:00.000Z', 'google', 'pending');
    const pending = await runImprovement(o, { requestedBy: 'recorder', windowEnd: '2026-06-02T12:00:00.000Z', minDataPoints: 100_000 });
    const proposal = pending.result?.proposals[0];
    if (!proposal || proposal.status !== 'pending') throw new Error(`expected a pending proposal, got ${JSON.stringify(pending.result)}`);
    const decided = await approveProposal(o, { proposalId: proposal.id, decidedBy: 'recorder', reason: 'history recording' });
    if (decided.status !== 'applied') throw new Error(`expected the approval to apply, got ${JSON.stringify(decided)}`);
    save(proposalDecisionWorkflowId(proposal.id), 'improvement-approval.json');
  } finally {
    await temporal.client.workflow.getHandle(routingPolicyWorkflowId).terminate('history recorded').catch(() => undefined);
    worker.shutdown();
    await running;
    await scratch.close();
    await temporal.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
