/**
 * `keys create | list | revoke` against a temporary SQLite database reached the way the operator
 * reaches it: DATABASE_URL, no gateway, no Temporal. The key is printed once; list never shows it.
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../../client/cli';
import { KEY_SHOWN_ONCE_WARNING, addKeysCommands } from '../../client/keys-cli';
import { hashApiKey } from '../../src/auth/keys';
import { openKeyStore } from '../../src/auth/open-key-store';
import { applyMigrations } from '../../src/memory/migrate';
import { scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

let scratch: ScratchDatabase;
const savedUrl = process.env['DATABASE_URL'];

beforeAll(async () => {
  scratch = scratchSqlite();
  await applyMigrations(scratch.url);
  // The commands' own connection: DATABASE_URL, as `npm run cli -- keys ...` on the server.
  process.env['DATABASE_URL'] = scratch.url;
});
afterAll(async () => {
  if (savedUrl === undefined) delete process.env['DATABASE_URL'];
  else process.env['DATABASE_URL'] = savedUrl;
  await scratch?.drop();
});

function cli() {
  const lines: string[] = [];
  const warnings: string[] = [];
  const program = new Command('orchestrator').exitOverride();
  addKeysCommands(program, { out: (l) => lines.push(l), warn: (l) => warnings.push(l) });
  program.commands.forEach((c) => c.exitOverride().commands.forEach((s) => s.exitOverride()));
  return { run: async (...args: string[]) => void (await program.parseAsync(['node', 'cli', ...args])), lines, warnings };
}

describe('keys commands', () => {
  it('create prints the key once with the warning; the database holds only its hash; list shows the prefix only', async () => {
    const c = cli();
    await c.run('keys', 'create', '--user', 'u1', '--name', 'laptop', '--quota-requests', '100', '--budget-usd', '2.5', '--expires', '30d');
    const key = c.lines[0]!;
    expect(key).toMatch(/^sk-orch-[A-Za-z0-9_-]{43}$/);
    expect(c.lines[1]).toMatch(/^[0-9a-f-]{36} {2}sk-orch-[A-Za-z0-9_-]{8}… {2}user u1 {2}active {2}limits 100 req\/day, \$2\.5\/month {2}created \S+ {2}expires \S+ {2}last used never {2}"laptop"$/);
    expect(c.warnings).toEqual([KEY_SHOWN_ONCE_WARNING]);

    const handle = openKeyStore(scratch.url);
    try {
      const rows = await handle.keys.list({ userId: 'u1' });
      expect(rows).toHaveLength(1);
      expect((await handle.keys.authenticate(key)).ok).toBe(true);
    } finally {
      await handle.close();
    }

    const list = cli();
    await list.run('keys', 'list', '--user', 'u1');
    expect(list.lines).toHaveLength(1);
    expect(list.lines[0]).toContain(key.slice(0, 16));
    expect(list.lines.join('\n')).not.toContain(key);
    await list.run('keys', 'list', '--json');
    const listed = JSON.parse(list.lines.slice(1).join('\n')) as Record<string, unknown>[];
    expect(listed).toEqual([expect.objectContaining({ prefix: key.slice(0, 16), user: 'u1', status: 'active', quota_requests_per_day: 100, budget_usd_per_month: 2.5, quota_tokens_per_day: null })]);
    const dump = list.lines.join('\n');
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(hashApiKey(key));
  });

  it('create --admin --json gives the key and its record; revoke by prefix; the key is refused afterwards', async () => {
    const c = cli();
    await c.run('keys', 'create', '--user', 'ops', '--admin', '--quota-tokens', '5000', '--expires', '2099-01-01', '--json');
    const created = JSON.parse(c.lines.join('\n')) as { key: string; id: string; prefix: string; admin: boolean; expires_at: string; warning: string };
    expect(created).toMatchObject({ admin: true, user: 'ops', expires_at: '2099-01-01T00:00:00.000Z', quota_tokens_per_day: 5000, warning: KEY_SHOWN_ONCE_WARNING });
    expect(created.key.startsWith(created.prefix)).toBe(true);

    const r = cli();
    await r.run('keys', 'revoke', created.prefix);
    expect(r.lines[0]).toMatch(new RegExp(`^revoked: ${created.id} \\(${created.prefix}…, user ops\\) at \\S+Z$`));
    await r.run('keys', 'revoke', created.id);
    expect(r.lines[1]).toMatch(/^already revoked: /);
    const handle = openKeyStore(scratch.url);
    try {
      expect(await handle.keys.authenticate(created.key)).toEqual({ ok: false, reason: 'revoked' });
    } finally {
      await handle.close();
    }
    const list = cli();
    await list.run('keys', 'list', '--user', 'ops');
    expect(list.lines[0]).toMatch(/ {2}revoked {2}admin /);
  });

  it('errors are typed and exit 1 (unknown key, bad expiry, bad quota) or 2 (usage), writing nothing', async () => {
    const c = cli();
    const before = (JSON.parse(await runJsonList()) as unknown[]).length;
    const unknown = await c.run('keys', 'revoke', 'sk-orch-nothere0').catch((e: unknown) => e);
    expect(describeFailure(unknown)).toEqual({ message: expect.stringMatching(/^ApiKeyNotFound: no API key has the id or prefix "sk-orch-nothere0"$/) as unknown, code: 1 });
    const expiry = await c.run('keys', 'create', '--user', 'u2', '--expires', 'tomorrow').catch((e: unknown) => e);
    expect(describeFailure(expiry)).toEqual({ message: expect.stringMatching(/^InvalidRequest: --expires: expected an ISO-8601 date/) as unknown, code: 1 });
    const past = await c.run('keys', 'create', '--user', 'u2', '--expires', '2020-01-01').catch((e: unknown) => e);
    expect(describeFailure(past).message).toMatch(/not in the future/);
    const quota = await c.run('keys', 'create', '--user', 'u2', '--quota-requests', '0').catch((e: unknown) => e);
    expect(describeFailure(quota)).toEqual({ message: expect.stringMatching(/^InvalidRequest: invalid API key: quotaRequestsPerDay: must be positive$/) as unknown, code: 1 });
    const usage = await c.run('keys', 'create', '--name', 'x').catch((e: unknown) => e);
    expect(describeFailure(usage).code).toBe(2);
    expect(c.warnings).toEqual([]);
    expect((JSON.parse(await runJsonList()) as unknown[]).length).toBe(before);
  });

  it('a database without the migrations: a ConfigError that says to run db:migrate', async () => {
    const empty = scratchSqlite();
    process.env['DATABASE_URL'] = empty.url.replace('/nested/', '/');
    try {
      const error = await cli()
        .run('keys', 'list')
        .catch((e: unknown) => e);
      expect(describeFailure(error).message).toMatch(/^ConfigError: cannot list API keys: database file:\S+ has no ApiKey table: apply the migrations with `npm run db:migrate`$/);
    } finally {
      process.env['DATABASE_URL'] = scratch.url;
      await empty.drop();
    }
  });
});

async function runJsonList(): Promise<string> {
  const c = cli();
  await c.run('keys', 'list', '--json');
  return c.lines.join('\n');
}
