/**
 * The `experiments` and `improvement proposals/report` commands against a SQLite store (no
 * Temporal needed for these; runs, approvals and the schedule are in workflow.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addImprovementCommands } from '../../client/improvement-cli';
import { InvalidRequest } from '../../src/errors';
import { ImprovementError } from '../../src/improvement/errors';
import { createImprovementStore, type ImprovementStore } from '../../src/improvement/store';
import { testConfig } from '../helpers/config';
import { scratchSqlite, type ScratchSqlite } from './db-fixtures';

let scratch: ScratchSqlite;
let store: ImprovementStore;
let dir: string;

beforeAll(async () => {
  scratch = await scratchSqlite('cli');
  store = createImprovementStore(scratch.db, scratch.url);
  dir = mkdtempSync(join(tmpdir(), 'improvement-cli-'));
});

afterAll(async () => {
  await scratch?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function cli(): { run: (...args: string[]) => Promise<void>; lines: string[] } {
  const lines: string[] = [];
  const program = new Command('orchestrator').exitOverride();
  // A lazy client: these commands never touch Temporal.
  addImprovementCommands(program, { connect: () => Promise.resolve({ improvement: { client: new Client() }, store, config: testConfig(), close: () => Promise.resolve() }), out: (l) => lines.push(l) });
  return { run: async (...args) => void (await program.parseAsync(['node', 'cli', ...args])), lines };
}

const variants = JSON.stringify([
  { name: 'control', share: 0.5, config: { strategy: 'lexical' } },
  { name: 'voting', share: 0.5, config: { strategy: 'voting' } },
]);

describe('experiments commands', () => {
  it('create with --baseline/--mde computes the planned samples; list and show it', async () => {
    const { run, lines } = cli();
    await run('experiments', 'create', '--name', 'Voting for QA', '--task-type', 'question_answering', '--kind', 'consensus_strategy', '--variants', variants, '--traffic-share', '0.2', '--baseline', '0.5', '--mde', '0.1', '--id', 'exp-voting', '--by', 'cli:ivy');
    // 388 per arm: Fleiss' formula at 0.5 vs 0.6, alpha 0.05, power 0.8 (statistics.test.ts).
    expect(lines.at(-1)).toBe('created experiment exp-voting: control 50% / voting 50% of 20% of question_answering traffic, 388 samples per variant planned');
    await run('experiments', 'list', '--status', 'running');
    expect(lines.at(-1)).toMatch(/^exp-voting\s+running\s+consensus_strategy\s+question_answering\s+20% traffic, 388\/variant  Voting for QA$/);
    lines.length = 0;
    await run('experiments', 'show', 'exp-voting');
    expect(lines.join('\n')).toMatch(/continue: no decision yet: 0 samples per arm, below the floor of 78/);
    lines.length = 0;
    await run('experiments', 'show', 'exp-voting', '--json');
    expect(JSON.parse(lines.join('\n'))).toMatchObject({ experiment: { id: 'exp-voting', createdBy: 'cli:ivy' }, analysis: { action: 'continue' } });
  });

  it('variants from a file; a definition error is refused with its issues and creates nothing', async () => {
    const { run, lines } = cli();
    const file = join(dir, 'variants.json');
    writeFileSync(file, variants);
    await run('experiments', 'create', '--name', 'From a file', '--task-type', 'code_review', '--kind', 'consensus_strategy', '--variants-file', file, '--traffic-share', '1', '--min-samples', '100', '--json');
    expect(JSON.parse(lines.join('\n'))).toMatchObject({ taskType: 'code_review', minSamples: 100, status: 'running' });
    const bad = await run('experiments', 'create', '--name', 'Bad', '--task-type', 'qa', '--kind', 'prompt_template', '--variants', variants, '--traffic-share', '0.5', '--min-samples', '100').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ImprovementError);
    expect((bad as ImprovementError).message).toMatch(/^invalid experiment: variants\.0\.config/);
    expect((await store.listExperiments({ taskType: 'qa', limit: 10 })).length).toBe(0);
    const neither = await run('experiments', 'create', '--name', 'X', '--task-type', 'qa', '--kind', 'prompt_template', '--traffic-share', '0.5', '--min-samples', '100').catch((e: unknown) => e);
    expect(neither).toBeInstanceOf(InvalidRequest);
    const noSize = await run('experiments', 'create', '--name', 'X', '--task-type', 'qa', '--kind', 'consensus_strategy', '--variants', variants, '--traffic-share', '0.5').catch((e: unknown) => e);
    expect((noSize as InvalidRequest).message).toMatch(/--min-samples, or --baseline and --mde/);
  });

  it('stop, then stopping again is a typed error', async () => {
    const { run, lines } = cli();
    await run('experiments', 'stop', 'exp-voting', '--reason', 'enough', '--by', 'cli:ivy');
    expect(lines.at(-1)).toBe('stopped experiment exp-voting: stopped by cli:ivy: enough');
    const again = await run('experiments', 'stop', 'exp-voting', '--reason', 'again').catch((e: unknown) => e);
    expect((again as ImprovementError).code).toBe('ExperimentNotRunning');
  });
});

describe('improvement read commands', () => {
  it('no report yet is a clear error; no proposals says so', async () => {
    const { run, lines } = cli();
    const e = await run('improvement', 'report').catch((x: unknown) => x);
    expect((e as ImprovementError).code).toBe('ReportNotFound');
    await run('improvement', 'proposals', '--status', 'all');
    expect(lines).toEqual(['no proposals']);
  });
});
