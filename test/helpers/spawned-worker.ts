/**
 * `npm run worker` as a child process, in a Temporal namespace of its own on the test dev server
 * (so it takes no other test's tasks: it polls the real task queue), with the environment a test
 * gives it (payload keys, log level). Its stdout and stderr are kept; `stop()` sends SIGTERM to npm
 * (npm forwards it) and waits for the worker's node process to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { REPO_ROOT } from './config';
import { requiredService } from './services';
import { clientGrpcInterceptors } from '../../src/temporal/closed-channel';

export async function ensureNamespace(namespace: string): Promise<void> {
  const connection = await Connection.connect({ address: requiredService('TEST_TEMPORAL_ADDRESS'), interceptors: clientGrpcInterceptors() });
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') }).catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS
    });
    // A new namespace is usable once the server's namespace cache has it.
    for (let i = 0; ; i++) {
      try {
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
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

export async function waitFor<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface SpawnedWorker {
  /** The worker's node process (pino lines carry it). */
  pid: number;
  /** Everything it wrote so far (stdout, then stderr interleaved as it came). */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** The parsed JSON log lines of stdout. */
  logLines(): Record<string, unknown>[];
  stop(): Promise<void>;
  /** SIGKILL, for afterAll. */
  kill(): void;
}

/** `npm run worker` with `env` over the test's environment; resolves once it logged `worker started`. */
export async function spawnNpmWorker(namespace: string, env: NodeJS.ProcessEnv): Promise<SpawnedWorker> {
  const npm: ChildProcess = spawn('npm', ['run', '--silent', 'worker'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), TEMPORAL_NAMESPACE: namespace, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pids = [npm.pid!];
  let output = '';
  let stdout = '';
  let stderr = '';
  npm.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
    stdout += d.toString();
  });
  npm.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
    stderr += d.toString();
  });
  const kill = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  try {
    // A build may run first.
    const pid = await waitFor('"worker started"', 240_000, () => {
      const line = stdout.split('\n').find((l) => l.includes('"msg":"worker started"'));
      if (!line && npm.exitCode !== null) throw new Error(`npm run worker exited (${npm.exitCode}) before "worker started":\n${output.slice(-3000)}`);
      return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
    });
    pids.push(pid);
    return {
      pid,
      output: () => output,
      stdout: () => stdout,
      stderr: () => stderr,
      logLines: () =>
        stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      async stop() {
        process.kill(npm.pid!, 'SIGTERM');
        await waitFor('the worker process to exit', 60_000, () => (alive(pid) ? undefined : true));
      },
      kill,
    };
  } catch (err) {
    kill();
    throw err;
  }
}
