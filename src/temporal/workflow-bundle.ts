/**
 * The prebuilt workflow bundle, and when a worker may use it.
 *
 * Bundling the workflow code (webpack, inside `Worker.create({ workflowsPath })`) costs seconds at
 * every worker start; `npm run build` does it once and writes `dist/workflow-bundle.js`. Beside it,
 * `dist/workflow-bundle.json` lists every file that went into the bundle (the workflows and what
 * they import from `src/`), each with its SHA-256, plus `package-lock.json` (the SDK and any
 * package the bundle carries). A worker uses the bundle only when every one of those files still
 * has the recorded hash; otherwise it bundles the sources as before and logs which file changed,
 * so edited workflow code never runs from an old bundle, whether the worker runs compiled or
 * through tsx. A checkout without workflow sources (an image that ships `dist/` only) uses the
 * bundle, since there is nothing newer to bundle.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root';

export const WORKFLOW_BUNDLE_FILE = path.join('dist', 'workflow-bundle.js');
export const WORKFLOW_BUNDLE_MANIFEST_FILE = path.join('dist', 'workflow-bundle.json');
/** The workflow sources' entry, relative to the project root. */
export const WORKFLOWS_ENTRY_FILE = path.join('workflows', 'index.ts');
/** Not an input of the bundler, but it pins the versions of what the bundle carries. */
export const LOCKFILE = 'package-lock.json';

export interface WorkflowBundleManifest {
  version: 1;
  /** SHA-256 (hex) of each input, by path relative to the project root (forward slashes). */
  files: Record<string, string>;
  /** SHA-256 of the bundle file itself, so a truncated or replaced bundle is noticed. */
  bundleSha256: string;
  builtAt: string;
}

export type WorkflowSource =
  | { kind: 'bundle'; codePath: string; reason: string }
  | { kind: 'sources'; workflowsPath: string; reason: string };

export interface SelectWorkflowSourceOptions {
  /** Project root (default: the one holding this project's package.json). */
  root?: string;
}

export function sha256File(file: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return null;
  }
}

/** The manifest entries for `inputs` (paths relative to `root`), the lockfile included. */
export function hashWorkflowInputs(root: string, inputs: readonly string[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const rel of [...new Set([...inputs, LOCKFILE])].map(toPosix).sort()) {
    const hash = sha256File(path.join(root, rel));
    if (hash !== null) files[rel] = hash;
  }
  return files;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

function readManifest(file: string): WorkflowBundleManifest | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<WorkflowBundleManifest>;
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null || typeof parsed.bundleSha256 !== 'string') return null;
    return parsed as WorkflowBundleManifest;
  } catch {
    return null;
  }
}

/**
 * Which workflow code a worker should load: the prebuilt bundle when it is there and was built from
 * the files on disk, else the sources (the worker bundles them itself). `reason` says why, for the
 * worker's start-up log line.
 */
export function selectWorkflowSource(options: SelectWorkflowSourceOptions = {}): WorkflowSource {
  const root = options.root ?? PROJECT_ROOT;
  const codePath = path.join(root, WORKFLOW_BUNDLE_FILE);
  const workflowsPath = path.join(root, WORKFLOWS_ENTRY_FILE);
  const sources = (reason: string): WorkflowSource => ({ kind: 'sources', workflowsPath, reason });

  if (!existsSync(codePath)) return sources(`no prebuilt workflow bundle at ${WORKFLOW_BUNDLE_FILE} (npm run build writes it)`);
  const manifest = readManifest(path.join(root, WORKFLOW_BUNDLE_MANIFEST_FILE));
  if (manifest === null) return sources(`${WORKFLOW_BUNDLE_MANIFEST_FILE} is missing or unreadable`);
  if (sha256File(codePath) !== manifest.bundleSha256) return sources(`${WORKFLOW_BUNDLE_FILE} does not match its manifest (partly written or replaced)`);
  if (!existsSync(workflowsPath)) return { kind: 'bundle', codePath, reason: `prebuilt bundle (no workflow sources to compare: ${WORKFLOWS_ENTRY_FILE} is absent)` };

  const changed = Object.entries(manifest.files)
    .filter(([rel, hash]) => sha256File(path.join(root, rel)) !== hash)
    .map(([rel]) => rel);
  if (changed.length > 0) {
    const shown = changed.slice(0, 5).join(', ') + (changed.length > 5 ? ` and ${changed.length - 5} more` : '');
    return sources(`workflow sources changed since the bundle was built (${shown}); npm run build refreshes it`);
  }
  return { kind: 'bundle', codePath, reason: `prebuilt bundle, built ${manifest.builtAt} from the current sources` };
}

/** The `Worker.create` options that load `source`. */
export function workflowWorkerOptions(source: WorkflowSource): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return source.kind === 'bundle' ? { workflowBundle: { codePath: source.codePath } } : { workflowsPath: source.workflowsPath };
}
