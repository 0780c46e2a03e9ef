/**
 * Replay: every history recorded from a real run (test/histories/, made by
 * `npm run record-histories`) must replay against today's workflow code. A change that
 * breaks determinism fails here, before it breaks running workflows. The replayer decodes with
 * the payload codec on, as `npm run cli -- replay` does: encrypted-*.json were written with
 * encryption (the fixture key), the older v<N>-*.json in plain JSON, and both must replay.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { isEncryptedPayload } from '../../src/privacy/payload-codec';
import { replayConverter } from '../../client/replay';
import { dataConverterFor } from '../../src/temporal/data-converter';
import { payloadsContaining, scanPayloads } from '../helpers/payload-scan';
import { HISTORY_FIXTURE_KEYS_FILE, WORKFLOWS_PATH } from '../helpers/temporal';
import { WORKFLOW_INTERCEPTORS_PATH } from '../../src/tracing/tracing';

const HISTORY_DIR = join(__dirname, '..', 'histories');
const files = readdirSync(HISTORY_DIR).filter((f) => f.endsWith('.json'));

const dataConverter = replayConverter(dataConverterFor(loadEnv({ PAYLOAD_KEYS_FILE: HISTORY_FIXTURE_KEYS_FILE })));
const encryptedFiles = files.filter((f) => f.startsWith('encrypted-'));

function load(file: string) {
  return historyFromJSON(JSON.parse(readFileSync(join(HISTORY_DIR, file), 'utf8')));
}

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  // With the tracing interceptor module, as the prebuilt bundle has it: histories recorded before it replay unchanged.
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH], logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} } });
}, 120_000);

describe('replay of recorded histories', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s replays deterministically', async (file) => {
    await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter }, load(file), file);
  });

  it('the current cases are recorded encrypted: no prompt text in any payload, every payload under the fixture key', () => {
    expect(encryptedFiles.length).toBeGreaterThanOrEqual(8);
    for (const file of encryptedFiles) {
      const raw = readFileSync(join(HISTORY_DIR, file), 'utf8');
      const json: unknown = JSON.parse(raw);
      // The recorder's prompts ("What is 17 * 23?", "Name a planet.", ...) appear nowhere: not in the
      // file, not in any payload once base64-decoded; and every payload is the codec's ciphertext.
      const needles = ['What is', 'Name a', 'Hello', 'primary color'];
      for (const needle of needles) expect(raw, file).not.toContain(needle);
      expect(payloadsContaining(json, needles), file).toEqual([]);
      const payloads = scanPayloads(json);
      expect(payloads.length, file).toBeGreaterThan(5);
      // Plain by design: search attributes (indexes) and the SDK core's own marker bookkeeping
      // (patch ids; a local activity's type, attempt and times), none of which holds user data.
      const plainByDesign = /\.searchAttributes\.|\.markerRecordedEventAttributes\.details\.(data|patch-data)\./;
      expect(payloads.filter((p) => p.encoding !== 'binary/encrypted' && !plainByDesign.test(p.path)).map((p) => p.path), file).toEqual([]);
      const started = load(file).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
      expect(started.length, file).toBe(1);
      expect(isEncryptedPayload(started[0]!), file).toBe(true);
    }
    // And the plain ones are really plain, so "a plain history replays with the codec on" is tested.
    const plain = files.find((f) => f.startsWith('v1-'))!;
    expect(isEncryptedPayload(load(plain).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!)).toBe(false);
  });

  it('an encrypted history does not replay without its key: the error names the missing key', async () => {
    const other = replayConverter(dataConverterFor(loadEnv({ PAYLOAD_KEYS: `someone-else:${Buffer.alloc(32, 7).toString('base64')}` })));
    const file = encryptedFiles[0]!;
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: other }, load(file), file)).rejects.toThrow(/history-fixture/);
  });

  it('detects nondeterminism: a history whose activity order was changed fails to replay', async () => {
    const history = load(files.find((f) => f.includes('consensus-three')) ?? files[0]!);
    // Rename the first scheduled activity: the workflow code would schedule a different one.
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled).toBeDefined();
    scheduled!.activityTaskScheduledEventAttributes!.activityType = { name: 'somethingElse' };
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, dataConverter }, history, 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
