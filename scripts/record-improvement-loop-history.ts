/**
 * Record the history of a scheduled improvement run over real traffic into test/histories/, for
 * the replay tests (test/replay/replay.test.ts replays every file there):
 *   improvement-scheduled-loop.json   the schedule, triggered now: real requests through the real
 *                                     worker and emulator (openai's gpt-4o-mini degraded, two
 *                                     experiments on live traffic); the run demotes gpt-4o-mini and
 *                                     applies the winning experiment's rule (two applyRoutingUpdate
 *                                     signals), and concludes the equal experiment with no winner
 *
 *   TEST_TEMPORAL_PORT=7266 bash scripts/with-test-temporal.sh npx tsx scripts/record-improvement-loop-history.ts
 *
 * Run it after a deliberate, compatible change to workflows/improvement.ts; never edit the JSON by hand.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRoutingPolicyWorkflow } from '../client/routing';
import { ensureImprovementSchedule, triggerImprovementNow } from '../src/improvement/schedule';
import { openImprovementStore } from '../src/improvement/store';
import type { improvementWorkflow } from '../workflows/improvement';
import {
  betterRoutingExperiment,
  degradeHistory,
  DEGRADED,
  equalPromptExperiment,
  improvementConfig,
  send,
  sleep,
  summaryRequests,
  translationRequests,
} from '../test/helpers/improvement-traffic';
import { startStack } from '../test/helpers/stack';

const HISTORIES = join(__dirname, '..', 'test', 'histories');
const FILE = 'improvement-scheduled-loop.json';

async function main(): Promise<void> {
  const prefix = `improvement-recorder-${Date.now().toString(36)}`;
  const stack = await startStack({ label: 'improvement-recorder', policyRefreshMs: 200, configure: improvementConfig({ min_data_points: 40, auto_apply_threshold: 0.9 }) });
  const store = openImprovementStore(stack.databaseUrl);
  const client = stack.temporal.client;
  const scheduleId = prefix;
  try {
    await ensureRoutingPolicyWorkflow({ client, taskQueue: stack.temporal.taskQueue, workflowId: stack.routingPolicyWorkflowId });
    const better = await store.createExperiment(betterRoutingExperiment(`translation-${prefix}`));
    const equal = await store.createExperiment(equalPromptExperiment(`summary-${prefix}`));
    await stack.runtime.experiments.refresh();

    // The degraded history, then (after its window ended, so the analysis does not see them) the experiments' traffic.
    const { windowEnd, windowHours } = await degradeHistory(stack, prefix, 'history');
    await sleep(Math.max(0, Date.parse(windowEnd) - Date.now() + 200));
    stack.runtime.emulator!.resetFaults();
    await send(stack, [...translationRequests(better, prefix), ...summaryRequests(equal, prefix)]);

    await ensureImprovementSchedule({
      client,
      config: stack.config,
      taskQueue: stack.temporal.taskQueue,
      scheduleId,
      workflowId: `improvement-scheduled-${prefix}`,
      workflowInput: { routingPolicyWorkflowId: stack.routingPolicyWorkflowId, overrides: { windowEnd, windowHours } },
    });
    await triggerImprovementNow({ client, scheduleId });
    let workflowId: string | undefined;
    for (let i = 0; i < 100 && !workflowId; i++) {
      workflowId = (await client.schedule.getHandle(scheduleId).describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await sleep(200);
    }
    if (!workflowId) throw new Error('the schedule did not start a run');
    const r = await client.workflow.getHandle<typeof improvementWorkflow>(workflowId).result();

    const demoted = r.proposals.find((p) => p.kind === 'demote' && p.summary.startsWith(`demote ${DEGRADED}`));
    const adopted = r.proposals.find((p) => p.summary.includes(better.id));
    const wanted = [
      { what: `the demotion of ${DEGRADED} applied`, ok: demoted?.status === 'applied' },
      { what: `experiment ${better.id} concluded with google-route, its rule applied`, ok: adopted?.status === 'applied' && r.experiments.some((e) => e.experimentId === better.id && e.winner === 'google-route') },
      { what: `experiment ${equal.id} concluded with no winner`, ok: r.experiments.some((e) => e.experimentId === equal.id && e.action === 'conclude' && e.winner === null) },
    ];
    const missing = wanted.filter((w) => !w.ok);
    if (missing.length > 0) throw new Error(`the run does not show what the history is meant to prove (${missing.map((m) => m.what).join('; ')}): ${JSON.stringify(r)}`);

    const json = execFileSync(process.env['TEMPORAL_CLI'] ?? 'temporal', ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.temporal.address, '--output', 'json'], { encoding: 'utf8' });
    writeFileSync(join(HISTORIES, FILE), json.endsWith('\n') ? json : `${json}\n`);
    const events = (JSON.parse(json) as { events?: { eventType?: string }[] }).events ?? [];
    console.log(`recorded ${workflowId} -> ${FILE} (${events.length} events, last ${events.at(-1)?.eventType ?? '?'}; ${r.applied} applied, ${r.experiments.length} experiments)`);
  } finally {
    await client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    await client.workflow.getHandle(stack.routingPolicyWorkflowId).terminate('history recorded').catch(() => undefined);
    await store.close();
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
