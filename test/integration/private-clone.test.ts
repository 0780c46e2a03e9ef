/**
 * `npm test` from a clone inside a private folder (mode 700, as many home folders are): the test
 * PostgreSQL runs as the `postgres` user, which cannot enter the clone, so scripts/postgres.sh puts
 * the cluster in a folder of its own that the user can reach, derived from the clone's path, with
 * nothing to set. Redis runs as the caller and needs nothing. Runs on ports of its own: the shared
 * services are left alone.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/config';
import { freePort } from '../../src/free-port';

const exec = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), 'private-home-'));
chmodSync(home, 0o700);
const clone = join(home, 'clone');
mkdirSync(clone);
cpSync(join(REPO_ROOT, 'scripts'), join(clone, 'scripts'), { recursive: true });
const isRoot = process.getuid?.() === 0;
const clusterDir = isRoot ? `/var/tmp/temporal-llm-orchestrator-postgres-${createHash('sha256').update(clone).digest('hex').slice(0, 12)}` : join(clone, '.data', 'postgres-test');


async function script(name: string, command: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return exec('bash', [join(clone, 'scripts', name), command], { cwd: clone, env: { ...process.env, POSTGRES_TEST_DIR: '', REDIS_TEST_DIR: '', ...env } });
}

let pgPort = 0;
let redisPort = 0;
afterAll(async () => {
  if (pgPort) await script('postgres.sh', 'stop', { PGPORT: String(pgPort) }).catch(() => undefined);
  if (redisPort) await script('redis.sh', 'stop', { REDIS_TEST_PORT: String(redisPort) }).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
  if (isRoot) rmSync(clusterDir, { recursive: true, force: true });
});

describe('scripts in a clone inside a private folder (mode 700)', () => {
  it('postgres.sh start / url / status / stop work, with the cluster where its user can reach it', async () => {
    expect(statSync(home).mode & 0o777).toBe(0o700);
    pgPort = await freePort();
    const env = { PGPORT: String(pgPort) };
    await script('postgres.sh', 'start', env);
    const { stdout: url } = await script('postgres.sh', 'url', env);
    expect(url.trim()).toBe(`postgresql://postgres:orchestrator@127.0.0.1:${pgPort}/orchestrator_test`);
    const { stdout: status } = await script('postgres.sh', 'status', env);
    expect(status.trim()).toBe(`running on 127.0.0.1:${pgPort} (${clusterDir}/data)`);
    if (isRoot) {
      // Owned by the server's user, private to it, and outside the clone.
      const st = statSync(clusterDir);
      expect(st.mode & 0o777).toBe(0o700);
      expect(st.uid).toBe(Number((await exec('id', ['-u', 'postgres'])).stdout.trim()));
    }
    const client = new Client({ connectionString: url.trim() });
    await client.connect();
    try {
      const { rows } = await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
      expect(rows[0]?.dir).toBe(`${clusterDir}/data`);
    } finally {
      await client.end();
    }
    // Idempotent start, then stop.
    await script('postgres.sh', 'start', env);
    await script('postgres.sh', 'stop', env);
    const stopped = await script('postgres.sh', 'status', env).then(() => 'running', (e: { code: number; stdout: string }) => `${e.code} ${e.stdout.trim()}`);
    expect(stopped).toBe('3 not running');
    pgPort = 0;
  }, 180_000);

  it('redis.sh start / status / stop work there too (it runs as the caller)', async () => {
    redisPort = await freePort();
    const env = { REDIS_TEST_PORT: String(redisPort) };
    await script('redis.sh', 'start', env);
    expect((await script('redis.sh', 'status', env)).stdout).toMatch(new RegExp(`^running on 127\\.0\\.0\\.1:${redisPort} `));
    await script('redis.sh', 'stop', env);
    redisPort = 0;
    expect(existsSync(join(clone, '.data', 'redis-test'))).toBe(true);
    expect(userInfo().uid).toBe(statSync(join(clone, '.data', 'redis-test')).uid);
  }, 60_000);
});
