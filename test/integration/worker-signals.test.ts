/**
 * `npm run worker` stops on SIGTERM sent to npm: the signal reaches the worker's node process (npm
 * forwards it to its child; the script `exec`s node so no shell sits in between and swallows it),
 * which shuts down gracefully and exits. The worker runs in a namespace of its own on the test dev
 * server, so it takes no other test's tasks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';

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

async function ensureNamespace(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService.registerNamespace({ namespace: NAMESPACE, workflowExecutionRetentionPeriod: msToTs('1 day') }).catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS
    });
    // A new namespace is usable once the server's namespace cache has it.
    for (let i = 0; ; i++) {
      try {
        await connection.workflowService.listWorkflowExecutions({ namespace: NAMESPACE, pageSize: 1 });
        return;
      } catch (err) {
        if (i > 60) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm run worker', () => {
  it('SIGTERM to the npm process stops the worker node process', async () => {
    const address = requiredService('TEST_TEMPORAL_ADDRESS');
    await ensureNamespace(address);
    const npm: ChildProcess = spawn('npm', ['run', '--silent', 'worker'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: NAMESPACE, DATABASE_URL: `file:${join(dir, 'worker.db')}`, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(npm.pid!);
    let output = '';
    npm.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const npmExit = new Promise<number | null>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));

    // The worker's own pid is in its log line (pino), whatever sits between npm and it. A build may run first.
    const workerPid = await waitFor('"worker started"', 240_000, () => {
      const line = output.split('\n').find((l) => l.includes('"msg":"worker started"'));
      if (!line && npm.exitCode !== null) throw new Error(`npm run worker exited (${npm.exitCode}) before the worker started:\n${output.slice(-3000)}`);
      return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
    });
    started.push(workerPid);
    expect(workerPid).not.toBe(npm.pid);
    expect(alive(workerPid)).toBe(true);

    process.kill(npm.pid!, 'SIGTERM');
    // Graceful shutdown: in-flight activities get shutdownGraceTime (10 s); this worker has none.
    await waitFor('the worker process to exit', 30_000, () => (alive(workerPid) ? undefined : true));
    expect(output).toMatch(/"msg":"worker stopped"/);
    await npmExit;
  }, 300_000);
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('npm run gateway', () => {
  it('SIGTERM to the npm process stops the gateway and its in-process worker cleanly (exit 0, no shutdown error)', async () => {
    const address = requiredService('TEST_TEMPORAL_ADDRESS');
    await ensureNamespace(address);
    const port = await freePort();
    const npm: ChildProcess = spawn('npm', ['run', '--silent', 'gateway'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: NAMESPACE, DATABASE_URL: `file:${join(dir, 'gateway.db')}`, GATEWAY_PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(npm.pid!);
    let output = '';
    npm.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const npmExit = new Promise<number | null>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));

    const gatewayPid = await waitFor('"gateway listening"', 240_000, () => {
      const line = output.split('\n').find((l) => l.includes('"msg":"gateway listening"'));
      if (!line && npm.exitCode !== null) throw new Error(`npm run gateway exited (${npm.exitCode}) before it listened:\n${output.slice(-3000)}`);
      return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
    });
    started.push(gatewayPid);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    process.kill(npm.pid!, 'SIGTERM');
    await waitFor('the gateway process to exit', 30_000, () => (alive(gatewayPid) ? undefined : true));
    expect(await npmExit).toBe(0);
    expect(output).toMatch(/"msg":"worker stopped"/);
    expect(output).not.toMatch(/did not stop cleanly/);
  }, 300_000);
});
