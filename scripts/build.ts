/**
 * `npm run build` (through scripts/build.sh, which decides whether anything changed): compiles the
 * programs users run to JavaScript in dist/ and bundles the workflow code once.
 *
 *   dist/worker.js, dist/client/cli.js (the `orchestrator` bin), dist/scripts/demo.js,
 *   dist/src/gateway/main.js (`npm run gateway`), dist/src/codec-server/main.js (`npm run codec-server`)
 *   dist/src/testing/index.js (the testing kit, the package's `./testing` export)
 *       esbuild, one CommonJS file per program; npm packages stay external (loaded from
 *       node_modules as they are), the project's own code and the generated Prisma clients are
 *       bundled in. Type checking is `npm run typecheck` (tsc), not this step.
 *   dist/workflow-bundle.js + dist/workflow-bundle.json
 *       bundleWorkflowCode over workflows/index.ts, with the hash of every input
 *       (src/temporal/workflow-bundle.ts decides at worker start whether it is still current).
 *       Rebundled only when those inputs changed.
 *
 * Files are written to a temporary name and renamed, so a worker starting during a build reads
 * either the old file or the new one, never half of one.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { build, type Plugin } from 'esbuild';
import { PROJECT_ROOT } from '../src/project-root';
import {
  WORKFLOWS_ENTRY_FILE,
  WORKFLOW_BUNDLE_FILE,
  WORKFLOW_BUNDLE_MANIFEST_FILE,
  hashWorkflowInputs,
  selectWorkflowSource,
  sha256File,
  type WorkflowBundleManifest,
} from '../src/temporal/workflow-bundle';
import { WORKFLOW_INTERCEPTORS_FILE } from '../src/tracing/tracing';

const root = PROJECT_ROOT;
const TSCONFIG = path.join(root, 'tsconfig.build.json');

/** The programs, by source file (relative to the root); each becomes dist/<same path>.js. */
const PROGRAMS = ['worker.ts', 'client/cli.ts', 'scripts/demo.ts', 'src/gateway/main.ts', 'src/codec-server/main.ts', 'src/testing/index.ts'];
/** Programs run directly as executables get a node shebang. */
const EXECUTABLES = new Set(['client/cli.ts']);

function log(message: string): void {
  process.stderr.write(`build: ${message}\n`);
}

function writeAtomically(file: string, contents: string | Uint8Array, mode?: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents, mode === undefined ? undefined : { mode });
  renameSync(tmp, file);
}

/**
 * In a bundle every module shares the program's `module`, so a `require.main === module` guard in
 * an imported module (src/memory/schema-twin.ts has one, to run as a script) would fire inside the
 * worker. Outside the program's own entry file the guard is compiled to `false`.
 */
function mainGuardOnlyInEntry(entry: string): Plugin {
  const entryPath = path.join(root, entry);
  return {
    name: 'main-guard-only-in-entry',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (args.path === entryPath || !source.includes('require.main === module')) return undefined;
        return { contents: source.replaceAll('require.main === module', 'false'), loader: 'ts' };
      });
    },
  };
}

async function buildProgram(entry: string): Promise<number> {
  const outfile = path.join(root, 'dist', entry.replace(/\.ts$/, '.js'));
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    tsconfig: TSCONFIG,
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    logLevel: 'warning',
    plugins: [mainGuardOnlyInEntry(entry)],
    ...(EXECUTABLES.has(entry) && { banner: { js: '#!/usr/bin/env node' } }),
  });
  for (const file of result.outputFiles) writeAtomically(file.path, file.contents, file.path === outfile && EXECUTABLES.has(entry) ? 0o755 : undefined);
  return result.outputFiles.find((f) => f.path === outfile)?.contents.byteLength ?? 0;
}

/** The project files the workflow bundle is made of (what workflows/index.ts imports, transitively). */
async function workflowInputs(): Promise<string[]> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [WORKFLOWS_ENTRY_FILE],
    bundle: true,
    platform: 'neutral',
    packages: 'external',
    tsconfig: TSCONFIG,
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  return Object.keys(result.metafile.inputs);
}

/** src/temporal/data-converter.ts FAILURE_CONVERTER_PATH, relative to the root. */
const FAILURE_CONVERTER_FILE = path.join('src', 'temporal', 'failure-converter.js');

async function buildWorkflowBundle(): Promise<string> {
  const current = selectWorkflowSource({ root });
  if (current.kind === 'bundle') return `workflow bundle up to date (${WORKFLOW_BUNDLE_FILE})`;
  // The failure converter goes into the bundle too (message and stack trace encrypted with the payloads).
  // So does the tracing interceptor module (src/tracing/workflow-interceptors.ts; inert unless a run carries a trace context).
  const inputs = [...(await workflowInputs()), FAILURE_CONVERTER_FILE, WORKFLOW_INTERCEPTORS_FILE];
  const files = hashWorkflowInputs(root, inputs);
  const started = Date.now();
  const silent = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, WORKFLOWS_ENTRY_FILE),
    failureConverterPath: path.join(root, FAILURE_CONVERTER_FILE),
    workflowInterceptorModules: [path.join(root, WORKFLOW_INTERCEPTORS_FILE)],
    logger: { log: silent, trace: silent, debug: silent, info: silent, warn: (m) => log(`bundler: ${m}`), error: (m) => log(`bundler: ${m}`) },
  });
  const bundlePath = path.join(root, WORKFLOW_BUNDLE_FILE);
  writeAtomically(bundlePath, code);
  // Hashes taken before bundling: a file edited while webpack ran makes the bundle stale, not wrong.
  const manifest: WorkflowBundleManifest = { version: 1, files, bundleSha256: sha256File(bundlePath)!, builtAt: new Date().toISOString() };
  writeAtomically(path.join(root, WORKFLOW_BUNDLE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return `workflow bundle ${WORKFLOW_BUNDLE_FILE} (${(code.length / 1024).toFixed(0)} KiB from ${inputs.length} files, ${Date.now() - started} ms; was: ${current.reason})`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const sizes = await Promise.all(PROGRAMS.map(buildProgram));
  log(`compiled ${PROGRAMS.map((p, i) => `dist/${p.replace(/\.ts$/, '.js')} (${((sizes[i] ?? 0) / 1024).toFixed(0)} KiB)`).join(', ')} in ${Date.now() - started} ms`);
  log(await buildWorkflowBundle());
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
