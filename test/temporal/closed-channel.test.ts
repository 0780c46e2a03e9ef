/**
 * A client call still in the SDK's retry backoff when its connection is closed: without the guard,
 * the retry timer throws "Channel has been shut down" (an uncaught exception: CI saw it after
 * gateway and hook tests closed their workers); with it, the call rejects with CANCELLED.
 * Needs no Temporal server: the address refuses connections, so every attempt is UNAVAILABLE.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/config';

// Inside the repository, so the script resolves the project's node_modules.
mkdirSync(join(REPO_ROOT, '.cache', 'tmp'), { recursive: true });
const dir = mkdtempSync(join(REPO_ROOT, '.cache', 'tmp', 'closed-channel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the scenario in a child process (an uncaught exception there must not take vitest down). */
function closeDuringRetry(guarded: boolean): { status: number | null; stdout: string } {
  const script = join(dir, `scenario-${guarded ? 'guarded' : 'default'}.ts`);
  writeFileSync(
    script,
    `import { Connection } from '@temporalio/client';
import { createServer } from 'node:net';
import { clientGrpcInterceptors } from ${JSON.stringify(join(REPO_ROOT, 'src/temporal/closed-channel'))};
process.on('uncaughtException', (e) => { console.log('UNCAUGHT ' + e.message); process.exit(3); });
async function main() {
  // A port nothing listens on: take one, then free it.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  const connection = Connection.lazy({ address: '127.0.0.1:' + port, connectTimeout: 100${guarded ? ', interceptors: clientGrpcInterceptors()' : ''} });
  const call = connection.workflowService.getSystemInfo({}).then(() => 'answered', (e: Error) => 'rejected: ' + e.message);
  await new Promise((r) => setTimeout(r, 300)); // the first attempts failed; a retry is scheduled
  await connection.close();
  console.log(await Promise.race([call, new Promise((r) => setTimeout(() => r('pending'), 10_000))]));
  process.exit(0);
}
void main();
`,
  );
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout };
}

describe('closing a client connection while a call is backing off', () => {
  it("the SDK's default interceptors throw from the retry timer (the failure this guards against)", () => {
    const run = closeDuringRetry(false);
    expect(run.stdout).toContain('UNCAUGHT Channel has been shut down');
    expect(run.status).toBe(3);
  });

  it('with clientGrpcInterceptors the call rejects with CANCELLED and nothing is thrown', () => {
    const run = closeDuringRetry(true);
    expect(run.stdout).not.toContain('UNCAUGHT');
    expect(run.stdout).toMatch(/rejected: 1 CANCELLED: connection closed/);
    expect(run.status).toBe(0);
  });
});
