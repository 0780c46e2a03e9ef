/**
 * The compiled CLI (dist/client/cli.js, the `orchestrator` bin) runs on plain node, and `--help`
 * stays cheap: it lists the commands without loading the Temporal client, Prisma or the config.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/config';

const run = promisify(execFile);
const CLI = join(REPO_ROOT, 'dist', 'client', 'cli.js');
const COMMANDS = ['run', 'status', 'feedback', 'list', 'routing', 'improvement', 'experiments', 'keys', 'conversations', 'users', 'retention', 'report', 'doctor', 'metrics', 'export', 'plugins'];
let scratch: string;

beforeAll(async () => {
  await run('bash', [join(REPO_ROOT, 'scripts', 'build.sh'), '--if-needed'], { cwd: REPO_ROOT });
  scratch = mkdtempSync(join(tmpdir(), 'compiled-cli-'));
}, 180_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function commandsIn(help: string): string[] {
  return COMMANDS.filter((c) => new RegExp(`^\\s+${c}\\b`, 'm').test(help));
}

describe('compiled CLI', () => {
  it('is an executable node script: --help exits 0 and lists every command', async () => {
    expect(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    accessSync(CLI, constants.X_OK);
    const { stdout } = await run(CLI, ['--help'], { cwd: REPO_ROOT });
    expect(stdout).toMatch(/^Usage: orchestrator/);
    expect(commandsIn(stdout)).toEqual(COMMANDS);
  });

  it('--help loads neither the Temporal client, nor Prisma, nor the config loader', async () => {
    // A preload that records every module file loaded by the time the process exits.
    const hook = join(scratch, 'record-modules.js');
    const record = join(scratch, 'modules.json');
    writeFileSync(hook, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(Object.keys(require.cache))));\n`);
    const { stdout } = await run(process.execPath, ['--require', hook, CLI, '--help'], { cwd: REPO_ROOT });
    expect(commandsIn(stdout)).toEqual(COMMANDS);
    const loaded = JSON.parse(readFileSync(record, 'utf8')) as string[];
    expect(loaded.some((f) => f.includes('/node_modules/commander/'))).toBe(true);
    for (const heavy of ['/node_modules/@temporalio/client/', '/node_modules/@temporalio/proto/', '/node_modules/@prisma/', '/node_modules/yaml/', '/node_modules/pg/', '/node_modules/better-sqlite3/']) {
      expect(loaded.filter((f) => f.includes(heavy)), heavy).toEqual([]);
    }
  });

  it('npm run cli runs the compiled CLI (building first when needed)', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'cli', '--', 'routing', '--help'], { cwd: REPO_ROOT });
    expect(stdout).toMatch(/^Usage: orchestrator routing/);
    expect(stdout).toMatch(/\bshow\b/);
  });
});
