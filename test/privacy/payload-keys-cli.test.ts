/**
 * `payload-keys new | show`: a fresh entry the keyring accepts; the configured ids, their source
 * and the encrypting key, never the key material; typed failures with the CLI's exit codes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../../client/cli';
import { addPayloadKeysCommands } from '../../client/payload-keys-cli';
import { newPayloadKeyEntry, parsePayloadKeys } from '../../src/privacy/payload-keys';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

function cli(env: NodeJS.ProcessEnv = {}) {
  const lines: string[] = [];
  const warnings: string[] = [];
  const program = new Command('orchestrator').exitOverride();
  addPayloadKeysCommands(program, { out: (l) => lines.push(l), warn: (l) => warnings.push(l), env });
  program.commands.forEach((c) => c.exitOverride().commands.forEach((s) => s.exitOverride()));
  return { run: async (...args: string[]) => void (await program.parseAsync(['node', 'cli', ...args])), lines, warnings };
}

async function failure(run: Promise<void>): Promise<ReturnType<typeof describeFailure>> {
  try {
    await run;
  } catch (err) {
    return describeFailure(err);
  }
  throw new Error('the command succeeded');
}

const A = newPayloadKeyEntry('key-a');
const B = newPayloadKeyEntry('key-b');
const material = (entry: string) => entry.slice(entry.indexOf(':') + 1);
const fingerprint = (entry: string) => createHash('sha256').update(Buffer.from(material(entry), 'base64')).digest('hex').slice(0, 12);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'payload-keys-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('payload-keys new', () => {
  it('prints one fresh entry the keyring accepts (the hint goes to stderr); --id names it; --json', async () => {
    const first = cli();
    await first.run('payload-keys', 'new');
    expect(first.lines).toHaveLength(1);
    expect(first.lines[0]).toMatch(/^k\d{8}-[0-9a-f]{6}:[A-Za-z0-9+/]{43}=$/);
    expect(parsePayloadKeys(first.lines[0]!, 'PAYLOAD_KEYS')[0]!.key).toHaveLength(32);
    expect(first.warnings.join('\n')).toMatch(/newest first/);
    expect(first.warnings.join('\n')).not.toContain(material(first.lines[0]!));

    const named = cli();
    await named.run('payload-keys', 'new', '--id', 'rot-2026.12');
    expect(named.lines[0]).toMatch(/^rot-2026\.12:/);
    expect(material(named.lines[0]!)).not.toBe(material(first.lines[0]!));

    const json = cli();
    await json.run('payload-keys', 'new', '--id', 'k2', '--json');
    const parsed = JSON.parse(json.lines[0]!) as { id: string; entry: string };
    expect(parsed.id).toBe('k2');
    expect(parsePayloadKeys(parsed.entry, 'x')[0]!.id).toBe('k2');
  });

  it('a bad --id is a usage error (exit 2) naming it', async () => {
    const f = await failure(cli().run('payload-keys', 'new', '--id', 'has space'));
    expect(f.code).toBe(2);
    expect(f.message).toMatch(/--id: key id 'has space' must be 1-64 characters/);
  });
});

describe('payload-keys show', () => {
  it('lists the ids newest first, which encrypts, the source and fingerprints; never the keys', async () => {
    const c = cli({ PAYLOAD_KEYS: `${B},${A}` });
    await c.run('payload-keys', 'show');
    const out = c.lines.join('\n');
    expect(c.lines[0]).toBe('payload encryption  on');
    expect(c.lines[1]).toBe('source              PAYLOAD_KEYS');
    expect(c.lines[2]).toMatch(new RegExp(`^  key-b +encrypts +sha256:${fingerprint(B)}$`));
    expect(c.lines[3]).toMatch(new RegExp(`^  key-a +decrypts +sha256:${fingerprint(A)}$`));
    for (const e of [A, B]) {
      expect(out).not.toContain(material(e));
      expect(out).not.toContain(Buffer.from(material(e), 'base64').toString('hex'));
    }
  });

  it('reads PAYLOAD_KEYS_FILE (--json), and says when encryption is off', async () => {
    const file = join(dir, 'keys');
    writeFileSync(file, `# mounted secret\n${A}\n`);
    const c = cli({ PAYLOAD_KEYS_FILE: file });
    await c.run('payload-keys', 'show', '--json');
    expect(JSON.parse(c.lines.join('\n'))).toEqual({ encryption: 'on', source: `file:${file}`, keys: [{ id: 'key-a', role: 'encrypts', fingerprint: fingerprint(A) }] });

    const off = cli({ PAYLOAD_ENCRYPTION: 'off', PAYLOAD_KEYS: A });
    await off.run('payload-keys', 'show');
    expect(off.lines).toEqual(['payload encryption  off (PAYLOAD_ENCRYPTION=off: payloads are stored in plain text)']);
  });

  it('malformed keys and production without keys fail with ConfigError (exit 1), naming what to do and no key', async () => {
    const bad = await failure(cli({ PAYLOAD_KEYS: `${A},k2:${Buffer.alloc(8).toString('base64')}` }).run('payload-keys', 'show'));
    expect(bad.code).toBe(1);
    expect(bad.message).toMatch(/^ConfigError: PAYLOAD_KEYS\[1\]: key 'k2' must be 32 bytes/);
    expect(bad.message).not.toContain(material(A));
    const prod = await failure(cli({ NODE_ENV: 'production' }).run('payload-keys', 'show'));
    expect(prod.code).toBe(1);
    expect(prod.message).toMatch(/no key is configured: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE \(generate one with `npm run cli -- payload-keys new`\)/);
  });

  it('is registered on the real CLI: the entry alone on stdout, exit 0; a bad id exits 2', async () => {
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    const { stdout } = await exec(tsx, [join(ROOT, 'client', 'cli.ts'), 'payload-keys', 'new', '--id', 'from-cli'], { cwd: ROOT, timeout: 60_000 });
    expect(stdout.trim()).toMatch(/^from-cli:[A-Za-z0-9+/]{43}=$/);
    const bad = await exec(tsx, [join(ROOT, 'client', 'cli.ts'), 'payload-keys', 'new', '--id', '!'], { cwd: ROOT, timeout: 60_000 }).catch((err: { code: number; stderr: string }) => err);
    expect('code' in bad && bad.code).toBe(2);
  });
});
