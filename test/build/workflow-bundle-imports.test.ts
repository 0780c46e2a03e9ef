/**
 * What the workflow bundle evaluates at module scope. The SDK gives every workflow run its own
 * module instances, so the module scope of everything workflows/index.ts imports runs again for
 * every run (each request's too). zod, and the schemas built with it, cost ~45 ms of CPU per
 * request when workflows/routing-policy.ts reached src/config/schema.ts through
 * src/routing/policy.ts. This test reads the import graph esbuild resolves from the same entry
 * (as scripts/build.ts does for the bundle's inputs) and fails if such an import comes back.
 */
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/project-root';
import { WORKFLOWS_ENTRY_FILE } from '../../src/temporal/workflow-bundle';

/** Packages workflow code may import at module scope. */
const ALLOWED_PACKAGES = ['@temporalio/workflow', '@temporalio/common'];
/** Project modules that build schemas or tables at import time: never at a workflow's module scope. */
const HEAVY_MODULES = ['src/config/schema.ts', 'src/types.ts', 'src/routing/policy.ts', 'src/routing/policy-schemas.ts', 'src/improvement/proposals.ts', 'src/improvement/experiments.ts'];
/** The only lazy `require` allowed: the routing-policy workflow loads its validation when a change arrives. */
const ALLOWED_LAZY = [{ from: 'workflows/routing-policy.ts', to: 'src/routing/policy-schemas.ts' }];

let inputs: Metafile['inputs'];

beforeAll(async () => {
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [WORKFLOWS_ENTRY_FILE],
    bundle: true,
    platform: 'neutral',
    packages: 'external',
    tsconfig: path.join(PROJECT_ROOT, 'tsconfig.build.json'),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  inputs = result.metafile.inputs;
});

/** Every module evaluated when the bundle's entry is, following static imports only, with the chain that reaches it. */
function eagerClosure(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const imp of inputs[file]?.imports ?? []) {
      if (imp.kind !== 'import-statement' || reached.has(imp.path)) continue;
      reached.set(imp.path, [...(reached.get(file) ?? []), imp.path]);
      if (!imp.external) queue.push(imp.path);
    }
  }
  return reached;
}

const entry = WORKFLOWS_ENTRY_FILE.split(path.sep).join('/');

describe('workflow bundle imports', () => {
  it('reaches every workflow module from the entry (the graph is the real one)', () => {
    const reached = eagerClosure(entry);
    for (const file of ['workflows/orchestrate-request.ts', 'workflows/routing-policy.ts', 'workflows/improvement.ts', 'src/routing/policy-rules.ts']) expect(reached.has(file), file).toBe(true);
  });

  it('imports no package but the Temporal workflow API at module scope (no zod)', () => {
    const packages = [...eagerClosure(entry)].filter(([p]) => !(p in inputs)).map(([p, chain]) => ({ p, chain: chain.join(' -> ') }));
    const offending = packages.filter(({ p }) => !ALLOWED_PACKAGES.includes(p));
    expect(offending).toEqual([]);
    expect(packages.map(({ p }) => p)).not.toContain('zod');
  });

  it('imports none of the schema modules at module scope', () => {
    const reached = eagerClosure(entry);
    const offending = HEAVY_MODULES.filter((m) => reached.has(m)).map((m) => reached.get(m)?.join(' -> '));
    expect(offending).toEqual([]);
  });

  it('loads a module lazily only where it is allowed', () => {
    const lazy = Object.entries(inputs).flatMap(([from, input]) => input.imports.filter((i) => i.kind !== 'import-statement').map((i) => ({ from, to: i.path })));
    expect(lazy).toEqual(ALLOWED_LAZY);
  });
});
