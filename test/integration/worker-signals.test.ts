/**
 * `npm run worker` stops on SIGTERM sent to npm: the signal reaches the worker's node process (npm
 * forwards it to its child; the script `exec`s node so no shell sits in between and swallows it),
 * which shuts down gracefully and exits. The worker runs in a namespace of its own on the test dev
 * server, so it takes no other test's tasks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { alive, ensureNamespace, waitFor } from '../helpers/spawned-worker';
import { freePort } from '../../src/free-port';

const NAMESPACE = 'worker-signal-test';
const dir = mkdtempSync(join(tmpdir(), 'worker-signals-'));
const started: number[] = [];

afterAll(() => {
  // Never leave a worker behind, whatever happened above.
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * `npm run <script>` with the test's namespace and this database; resolves once its log says
 * `ready` (pino lines carry the pid of the node process, whatever sits between npm and it).
 */
async function runNpmScript(script: string, env: NodeJS.ProcessEnv, ready: string) {
  const npm: ChildProcess = spawn('npm', ['run', '--silent', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), TEMPORAL_NAMESPACE: NAMESPACE, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(npm.pid!);
  let output = '';
  npm.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  // A build may run first.
  const pid = await waitFor(`"${ready}"`, 240_000, () => {
    const line = output.split('\n').find((l) => l.includes(`"msg":"${ready}"`));
    if (!line && npm.exitCode !== null) throw new Error(`npm run ${script} exited (${npm.exitCode}) before "${ready}":\n${output.slice(-3000)}`);
    return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
  });
  started.push(pid);
  return { npm, pid, exit, output: () => output };
}

describe('npm run worker', () => {
  it('SIGTERM to the npm process stops the worker node process', async () => {
    await ensureNamespace(NAMESPACE);
    const worker = await runNpmScript('worker', { DATABASE_URL: `file:${join(dir, 'worker.db')}` }, 'worker started');
    expect(worker.pid).not.toBe(worker.npm.pid);
    expect(alive(worker.pid)).toBe(true);

    process.kill(worker.npm.pid!, 'SIGTERM');
    // Graceful shutdown: in-flight activities get shutdownGraceTime (10 s); this worker has none.
    await waitFor('the worker process to exit', 30_000, () => (alive(worker.pid) ? undefined : true));
    expect(worker.output()).toMatch(/"msg":"worker stopped"/);
    await worker.exit;
  }, 300_000);
});


describe('npm run gateway', () => {
  it('SIGTERM to the npm process stops the gateway and its in-process worker cleanly (exit 0, no shutdown error)', async () => {
    await ensureNamespace(NAMESPACE);
    const port = await freePort();
    const gateway = await runNpmScript('gateway', { DATABASE_URL: `file:${join(dir, 'gateway.db')}`, GATEWAY_PORT: String(port) }, 'gateway listening');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    process.kill(gateway.npm.pid!, 'SIGTERM');
    await waitFor('the gateway process to exit', 30_000, () => (alive(gateway.pid) ? undefined : true));
    expect(await gateway.exit).toBe(0);
    expect(gateway.output()).toMatch(/"msg":"worker stopped"/);
    expect(gateway.output()).not.toMatch(/did not stop cleanly/);
  }, 300_000);
});
