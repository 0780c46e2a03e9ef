/**
 * The prebuilt workflow bundle (npm run build) is what a worker loads only while it matches the
 * sources: selectWorkflowSource on a scratch project for every way it can go stale, then the real
 * build's manifest and bundle.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  WORKFLOW_BUNDLE_FILE,
  WORKFLOW_BUNDLE_MANIFEST_FILE,
  hashWorkflowInputs,
  selectWorkflowSource,
  sha256File,
  workflowWorkerOptions,
  type WorkflowBundleManifest,
} from '../../src/temporal/workflow-bundle';
import { REPO_ROOT } from '../helpers/config';

const run = promisify(execFile);
const INPUTS = ['workflows/index.ts', 'workflows/request.ts', 'src/helper.ts'];
const roots: string[] = [];

function write(root: string, rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

/** A project with workflow sources and a bundle built from them, as scripts/build.ts leaves it. */
function builtProject(): string {
  const root = mkdtempSync(join(tmpdir(), 'workflow-bundle-'));
  roots.push(root);
  write(root, 'package.json', '{}');
  write(root, 'package-lock.json', '{"lockfileVersion":3}');
  write(root, 'workflows/index.ts', "export * from './request';\n");
  write(root, 'workflows/request.ts', "import { helper } from '../src/helper';\nexport async function request() { return helper(); }\n");
  write(root, 'src/helper.ts', 'export const helper = () => 1;\n');
  write(root, WORKFLOW_BUNDLE_FILE, '/* bundle */');
  const manifest: WorkflowBundleManifest = { version: 1, files: hashWorkflowInputs(root, INPUTS), bundleSha256: sha256File(join(root, WORKFLOW_BUNDLE_FILE))!, builtAt: '2026-12-01T00:00:00.000Z' };
  write(root, WORKFLOW_BUNDLE_MANIFEST_FILE, JSON.stringify(manifest));
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('selectWorkflowSource', () => {
  it('uses the prebuilt bundle when every recorded input is unchanged', () => {
    const root = builtProject();
    const source = selectWorkflowSource({ root });
    expect(source).toMatchObject({ kind: 'bundle', codePath: join(root, WORKFLOW_BUNDLE_FILE) });
    expect(workflowWorkerOptions(source)).toEqual({ workflowBundle: { codePath: join(root, WORKFLOW_BUNDLE_FILE) } });
  });

  it('records the lockfile beside the inputs', () => {
    expect(Object.keys(hashWorkflowInputs(builtProject(), INPUTS)).sort()).toEqual([...INPUTS, 'package-lock.json'].sort());
  });

  it.each([
    ['a workflow file is edited', (root: string) => appendFileSync(join(root, 'workflows/request.ts'), '// edited\n'), 'workflows/request.ts'],
    ['a helper the workflows import is edited', (root: string) => appendFileSync(join(root, 'src/helper.ts'), '// edited\n'), 'src/helper.ts'],
    ['an input is deleted', (root: string) => rmSync(join(root, 'src/helper.ts')), 'src/helper.ts'],
    ['the lockfile changes (another SDK version)', (root: string) => write(root, 'package-lock.json', '{"lockfileVersion":3,"x":1}'), 'package-lock.json'],
  ])('bundles the sources instead when %s, naming the file', (_what, change, file) => {
    const root = builtProject();
    change(root);
    const source = selectWorkflowSource({ root });
    expect(source.kind).toBe('sources');
    expect(source.reason).toContain(file);
    expect(workflowWorkerOptions(source)).toEqual({ workflowsPath: join(root, 'workflows', 'index.ts') });
  });

  it('does not use a bundle file that differs from the one the manifest describes', () => {
    const root = builtProject();
    appendFileSync(join(root, WORKFLOW_BUNDLE_FILE), 'truncated or replaced');
    expect(selectWorkflowSource({ root })).toMatchObject({ kind: 'sources', reason: expect.stringMatching(/does not match its manifest/) as unknown });
  });

  it('bundles the sources when there is no bundle or no readable manifest', () => {
    const noBundle = builtProject();
    rmSync(join(noBundle, WORKFLOW_BUNDLE_FILE));
    expect(selectWorkflowSource({ root: noBundle })).toMatchObject({ kind: 'sources', reason: expect.stringMatching(/no prebuilt workflow bundle/) as unknown });

    const badManifest = builtProject();
    write(badManifest, WORKFLOW_BUNDLE_MANIFEST_FILE, '{ not json');
    expect(selectWorkflowSource({ root: badManifest })).toMatchObject({ kind: 'sources', reason: expect.stringMatching(/missing or unreadable/) as unknown });
  });

  it('uses the bundle when the workflow sources are not shipped at all (dist/ only)', () => {
    const root = builtProject();
    rmSync(join(root, 'workflows'), { recursive: true });
    expect(selectWorkflowSource({ root })).toMatchObject({ kind: 'bundle', reason: expect.stringMatching(/no workflow sources/) as unknown });
  });
});

describe('the real build', () => {
  beforeAll(async () => {
    await run('bash', [join(REPO_ROOT, 'scripts', 'build.sh'), '--if-needed'], { cwd: REPO_ROOT });
  }, 180_000);

  it("lists every workflow source and the lockfile in the bundle's manifest", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, WORKFLOW_BUNDLE_MANIFEST_FILE), 'utf8')) as WorkflowBundleManifest;
    const listed = Object.keys(manifest.files);
    const workflowFiles = readdirRecursive(join(REPO_ROOT, 'workflows')).filter((f) => f.endsWith('.ts'));
    expect(workflowFiles.length).toBeGreaterThan(3);
    for (const file of workflowFiles) expect(listed).toContain(file);
    expect(listed).toContain('package-lock.json');
    expect(listed.some((f) => f.startsWith('src/'))).toBe(true); // the pure helpers the workflows import
  });

  it('is a working bundle of the current workflows: a recorded history replays against it', async () => {
    const source = selectWorkflowSource();
    expect(source).toMatchObject({ kind: 'bundle' }); // just built from these sources
    const history = historyFromJSON(JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'histories', 'v2-consensus-three-providers.json'), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { codePath: join(REPO_ROOT, WORKFLOW_BUNDLE_FILE) } }, history, 'v2-consensus-three-providers');
  });
});

function readdirRecursive(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(REPO_ROOT, full).split('\\').join('/'));
    }
  };
  walk(dir);
  return out;
}
