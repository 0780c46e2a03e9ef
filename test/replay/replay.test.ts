/**
 * Replay: every history recorded from a real run (test/histories/, made by
 * `npm run record-histories`) must replay against today's workflow code. A change that
 * breaks determinism fails here, before it breaks running workflows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../helpers/temporal';

const HISTORY_DIR = join(__dirname, '..', 'histories');
const files = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json'));

function load(file: string) {
  return historyFromJSON(JSON.parse(readFileSync(join(HISTORY_DIR, file), 'utf8')));
}

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} } });
}, 120_000);

describe('replay of recorded histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s replays deterministically', async (file) => {
    await Worker.runReplayHistory({ workflowBundle: bundle }, load(file), file);
  });

  it('detects nondeterminism: a history whose activity order was changed fails to replay', async () => {
    const history = load(files.find((f) => f.includes('consensus-three')) ?? files[0]!);
    // Rename the first scheduled activity: the workflow code would schedule a different one.
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled).toBeDefined();
    scheduled!.activityTaskScheduledEventAttributes!.activityType = { name: 'somethingElse' };
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
