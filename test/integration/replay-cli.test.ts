/**
 * `cli replay` and `replayHistories` as a user runs them: a request run on the test stack, its
 * history exported by the real Temporal CLI (`temporal workflow show --output json`), replayed
 * from the file and fetched from the server by workflow id; a tampered copy must fail, naming
 * the event where it diverges.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayHistories, type ReplayReport } from '../../client/replay';
import { REPO_ROOT } from '../helpers/config';
import { startStack, type TestStack } from '../helpers/stack';

const exec = promisify(execFile);
let stack: TestStack;
let dir: string;
let workflowId: string;
let exported: string;
let tampered: string;
let tamperedEventId: number;

/** The Temporal CLI: $TEMPORAL_CLI, the one scripts/lib.sh installs into .cache/, else `temporal` on PATH. */
function temporalCli(): string {
  if (process.env['TEMPORAL_CLI']) return process.env['TEMPORAL_CLI'];
  const cached = join(REPO_ROOT, '.cache', 'temporal-venv', 'bin', 'temporal');
  return existsSync(cached) ? cached : 'temporal';
}

beforeAll(async () => {
  stack = await startStack({ label: 'replay-cli' });
  dir = mkdtempSync(join(tmpdir(), 'replay-cli-'));
  const result = await stack.client.processRequest({
    prompt: 'What is 17 * 23?',
    taskType: 'question_answering',
    userId: 'user-replay',
    requireConsensus: true,
    requestId: `replay-cli-${Date.now().toString(36)}`,
  });
  workflowId = result.metadata.workflowId;
  const json = execFileSync(temporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.temporal.address, '--output', 'json'], { encoding: 'utf8' });
  exported = join(dir, 'history.json');
  writeFileSync(exported, json);
  // Tampered copy: the first scheduled activity gets another type, as if the code now called something else.
  const history = JSON.parse(json) as { events: { eventId: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[] };
  const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes);
  if (!scheduled) throw new Error('the exported history has no scheduled activity to tamper with');
  scheduled.activityTaskScheduledEventAttributes!.activityType = { name: 'somethingElse' };
  tamperedEventId = Number(scheduled.eventId);
  tampered = join(dir, 'tampered.json');
  writeFileSync(tampered, JSON.stringify(history));
}, 180_000);

afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'client', 'cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, LOG_LEVEL: 'warn' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('cli replay', () => {
  it('replays a history exported by the Temporal CLI: OK, exit 0', async () => {
    const r = await cli('replay', exported);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^OK +.*history\.json \[orchestrateRequest, \d+ events\]$/m);
    expect(r.stdout).toMatch(/1 of 1 replayed OK/);
    expect(r.code).toBe(0);
  }, 120_000);

  it('works as users call it: npm run cli -- replay (the compiled CLI, built when needed)', async () => {
    let result: { code: number; stdout: string; stderr: string };
    try {
      const { stdout, stderr } = await exec('npm', ['run', '--silent', 'cli', '--', 'replay', exported, tampered], {
        cwd: REPO_ROOT,
        env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, LOG_LEVEL: 'warn' },
      });
      result = { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      result = { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
    expect(result.stdout).toMatch(/^OK +.*history\.json/m);
    expect(result.stdout).toMatch(new RegExp(`^FAIL +.*tampered\\.json .*nondeterminism at event ${tamperedEventId} `, 'm'));
    expect(result.code).toBe(1);
  }, 240_000);

  it('reports a tampered copy as nondeterminism at the event it diverges, exit 1; --json says the same', async () => {
    const r = await cli('replay', exported, tampered);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^FAIL +.*tampered\\.json .*nondeterminism at event ${tamperedEventId} \\(ActivityTaskScheduled\\).*'somethingElse'`, 'm'));
    expect(r.stdout).toMatch(/^OK +.*history\.json/m);
    expect(r.stderr).toMatch(/1 of 2 histories did not replay/);

    const j = await cli('replay', tampered, '--json');
    expect(j.code).toBe(1);
    const report = JSON.parse(j.stdout) as ReplayReport;
    expect(report.ok).toBe(false);
    expect(report.results[0]).toMatchObject({ ok: false, from: 'file', workflowType: 'orchestrateRequest', error: { kind: 'nondeterminism', eventId: tamperedEventId, eventType: 'ActivityTaskScheduled' } });
    expect(report.results[0]!.error!.workflowTask!.commandEventIds).toContain(tamperedEventId);
  }, 120_000);

  it('fetches a history from the server by workflow id: OK, exit 0', async () => {
    const r = await cli('replay', workflowId, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as ReplayReport;
    expect(report.results).toEqual([expect.objectContaining({ source: workflowId, from: 'server', workflowId, ok: true, error: null })]);
    expect(report.results[0]!.events).toBe((JSON.parse(readFileSync(exported, 'utf8')) as { events: unknown[] }).events.length);
  }, 120_000);

  it('an unknown workflow id or a missing file fails to load, exit 1', async () => {
    const r = await cli('replay', `no-such-workflow-${Date.now()}`, join(dir, 'missing.json'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL +no-such-workflow-\d+ \(server\): cannot load: workflow no-such-workflow-\d+: /);
    expect(r.stdout).toMatch(/FAIL +.*missing\.json: cannot load: no such file/);
  }, 120_000);
});

describe('replayHistories', () => {
  it('replays files and workflow ids in one call, and locates a divergence in a later workflow task', async () => {
    // A failover: anthropic is refused (401), so google's call is scheduled by a later workflow task.
    const failover = await stack.client.processRequest({
      prompt: 'Name a primary color. [[emulate@claude-haiku-4-5:401]]',
      taskType: 'question_answering',
      userId: 'user-replay',
      providers: ['anthropic', 'google'],
      minProviders: 1,
      requestId: `replay-cli-failover-${Date.now().toString(36)}`,
    });
    const json = execFileSync(temporalCli(), ['workflow', 'show', '--workflow-id', failover.metadata.workflowId, '--address', stack.temporal.address, '--output', 'json'], { encoding: 'utf8' });
    type Event = { eventId: string; activityTaskScheduledEventAttributes?: { activityType: { name: string }; workflowTaskCompletedEventId: string } };
    const history = JSON.parse(json) as { events: Event[] };
    const scheduled = history.events.filter((e) => e.activityTaskScheduledEventAttributes);
    const first = scheduled[0]!;
    const later = scheduled.at(-1)!;
    const laterTask = Number(later.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId);
    expect(laterTask).toBeGreaterThan(Number(first.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId));
    later.activityTaskScheduledEventAttributes!.activityType = { name: 'renamedLater' };
    const lateFile = join(dir, 'tampered-late.json');
    writeFileSync(lateFile, JSON.stringify(history));

    const report = await replayHistories({ sources: [exported, workflowId, lateFile], client: stack.temporal.client });
    expect(report.results.map((r) => r.ok)).toEqual([true, true, false]);
    expect(report.ok).toBe(false);
    expect(report.results[2]!.error).toMatchObject({ kind: 'nondeterminism', eventId: Number(later.eventId), eventType: 'ActivityTaskScheduled', workflowTask: { completedEventId: laterTask } });
    expect(report.results[2]!.error!.message).toMatch(/renamedLater/);
  }, 120_000);

  it('reads the older history JSON shape too (PascalCase enums, {"history": {"events"}})', async () => {
    const modern = JSON.parse(readFileSync(exported, 'utf8')) as { events: Record<string, unknown>[] };
    // Older CLIs and tctl wrote enum values in PascalCase ("WorkflowExecutionStarted").
    const pascal = (s: string) => s.replace(/^EVENT_TYPE_/, '').toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
    const old = { history: { events: modern.events.map((e) => ({ ...e, eventType: pascal(String(e['eventType'])) })) } };
    const file = join(dir, 'old-format.json');
    writeFileSync(file, JSON.stringify(old));
    const report = await replayHistories({ sources: [file] });
    expect(report.results[0]).toMatchObject({ ok: true, error: null });
  }, 120_000);
});
