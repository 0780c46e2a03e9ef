/**
 * Replay of the improvement workflows' recorded histories (test/histories/improvement-*.json,
 * made by scripts/record-improvement-history.ts from real runs): today's workflow code must make
 * the same decisions in the same order. test/replay/replay.test.ts replays them too, with every
 * other history; this file also checks that they hold what they are meant to prove.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../helpers/temporal';

const HISTORIES = join(__dirname, '..', 'histories');

function load(file: string) {
  return historyFromJSON(JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')));
}

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} } });
}, 120_000);

describe('improvement workflow histories', () => {
  it('the automatic run: analysis, report, the demotion signalled to the routing-policy workflow, its outcome recorded', async () => {
    const history = load('improvement-demote-applied.json');
    const activities = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
    expect(activities).toEqual(
      expect.arrayContaining(['ensureRoutingPolicyRunning', 'analyseImprovements', 'analyseRunningExperiments', 'recordImprovementReport', 'awaitRoutingChangeOutcome', 'recordProposalDecision', 'finaliseImprovementReport']),
    );
    const signal = history.events?.find((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes);
    expect(signal?.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName).toBe('applyRoutingUpdate');
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, 'improvement-demote-applied');
  });

  it('the approval: the pending proposal is loaded, signalled and recorded as applied', async () => {
    const history = load('improvement-approval.json');
    expect(history.events?.some((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'applyRoutingUpdate')).toBe(true);
    await Worker.runReplayHistory({ workflowBundle: bundle }, history, 'improvement-approval');
  });

  it('a history whose activities were reordered does not replay', async () => {
    const history = load('improvement-demote-applied.json');
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'analyseImprovements');
    scheduled!.activityTaskScheduledEventAttributes!.activityType = { name: 'analyseRunningExperiments' };
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
