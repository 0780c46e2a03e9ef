/**
 * `cli report`: a scratch SQLite database seeded with known interactions, provider calls, routing
 * policy versions, proposals and an experiment; the written HTML opened in headless Chromium (no
 * network) must show every chart with its data, the providers in the legends, the policy version
 * and proposal markers, the experiment's intervals; an empty window shows the "no data" notes;
 * nothing from the database reaches the page unescaped and no prompt or answer text at all.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { NO_DATA, writeReport } from '../../src/report';
import { wilsonInterval } from '../../src/report/series';
import { addReportCommands } from '../../client/report-cli';
import { Command } from 'commander';
import { ANSWER, END, EVIL, PROMPT, USER_ID, seedReportDb } from './fixtures';

const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

let dir: string;
let url: string;
let db: DatabaseClient;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium, or set CHROMIUM_PATH (bash scripts/chromium.sh)`);
  dir = mkdtempSync(join(tmpdir(), 'report-'));
  url = `file:${join(dir, 'report.db')}`;
  await applyMigrations(url);
  db = createPrismaClient(url);
  await seedReportDb(db);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await db?.$disconnect();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Open the file with every network request refused: the page must need none. */
async function open(file: string): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests: string[] = [];
  await page.route('**/*', async (route) => {
    const u = route.request().url();
    if (u.startsWith('file:')) return route.continue();
    requests.push(u);
    return route.abort();
  });
  await page.goto(`file://${file}`);
  return { page, requests };
}

const svgTexts = (page: Page, section: string) => page.locator(`#${section} svg text`).allTextContents();
const pathCount = (page: Page, section: string) => page.locator(`#${section} svg path`).count();

describe('cli report', () => {
  it('renders every chart with its data, legends and markers, self-contained and escaped', async () => {
    const out = join(dir, 'full.html');
    const result = await writeReport({ databaseUrl: url, hours: 24, until: END, out, now: END });
    expect(result).toMatchObject({ interactions: 48, providerCalls: 97, policyVersions: 2, proposals: 1, experiments: 1 });

    const html = readFileSync(out, 'utf8');
    for (const secret of [PROMPT, ANSWER, USER_ID]) expect(html).not.toContain(secret);
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/<script|<link|https?:\/\/(?!www\.w3\.org)/);

    const { page, requests } = await open(out);
    expect(requests).toEqual([]);
    for (const id of ['latency', 'success', 'cost', 'agreement']) {
      expect(await page.getAttribute(`#${id}`, 'data-has-data'), id).toBe('true');
      expect(await page.$$(`#${id} svg`), id).toHaveLength(1);
      expect(await pathCount(page, id), id).toBeGreaterThan(5);
    }
    expect(await page.$$('.no-data')).toHaveLength(0);

    // Latency: a p50 and a p95 line per provider, legends naming them, and both markers.
    const latency = await svgTexts(page, 'latency');
    for (const name of ['openai p50', 'openai p95', 'anthropic p50', 'anthropic p95', `${EVIL} p50`]) expect(latency, name).toContain(name);
    expect(latency).toContain('policy v7');
    expect(latency).toContain('policy v8');
    expect(latency).toContain('proposal demote');
    // The hostile provider name is text, not markup: nothing ran, no image was made.
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.$$('img')).toHaveLength(0);

    const success = await svgTexts(page, 'success');
    for (const name of ['requests', 'openai calls', 'anthropic calls', 'policy v7']) expect(success, name).toContain(name);
    // 48 buckets of 30 min, one interaction each: points for every bucket of the requests line.
    const paths = await page.locator('#success svg path').evaluateAll((els: { getAttribute(name: string): string | null }[]) => els.map((e) => e.getAttribute('d') ?? ''));
    const circles = paths.filter((d) => /^M\S+ \S+A/.test(d)).length;
    expect(circles).toBeGreaterThanOrEqual(48);

    const cost = await svgTexts(page, 'cost');
    expect(cost).toEqual(expect.arrayContaining(['openai', 'anthropic', '$0.0480', '$0.0960']));
    const agreement = await svgTexts(page, 'agreement');
    expect(agreement).toEqual(expect.arrayContaining(['0.3–0.4', '0.9–1.0', '24']));

    // Timeline table: both versions and the proposal, escaped reason text.
    const timeline = await page.locator('#timeline td').allTextContents();
    expect(timeline).toEqual(expect.arrayContaining(['routing policy v7', 'routing policy v8', 'proposal prop-1', `demote ${EVIL}`]));

    // The experiment: a chart with both variants and the Wilson intervals in the table.
    const exp = await page.locator('[data-experiment="exp-prompts"] svg text').allTextContents();
    expect(exp).toEqual(expect.arrayContaining(['control (control)', 'terse', 'good rate', '95% interval']));
    const cells = await page.locator('[data-experiment="exp-prompts"] td').allTextContents();
    const w = wilsonInterval(90, 120);
    expect(cells).toContain(`${(w.low * 100).toFixed(1)}% – ${(w.high * 100).toFixed(1)}%`);
    expect(cells).toContain('0.9910');
    await page.close();
  }, 120_000);

  it('an empty window says "no data in this window" for every chart instead of breaking', async () => {
    const out = join(dir, 'empty.html');
    const result = await writeReport({ databaseUrl: url, hours: 6, until: new Date('2026-06-01T00:00:00Z'), out });
    expect(result).toMatchObject({ interactions: 0, providerCalls: 0, policyVersions: 0, proposals: 0, experiments: 0 });
    const { page } = await open(out);
    for (const id of ['latency', 'success', 'cost', 'agreement']) {
      expect(await page.getAttribute(`#${id}`, 'data-has-data'), id).toBe('false');
      expect(await page.textContent(`#${id} .no-data`), id).toBe(NO_DATA);
      expect(await page.$$(`#${id} svg`), id).toHaveLength(0);
    }
    expect(await page.textContent('#timeline .no-data')).toBe(NO_DATA);
    expect(await page.textContent('#experiments .no-data')).toBe(NO_DATA);
    await page.close();
  }, 60_000);

  it('the CLI writes the file and refuses bad arguments as usage errors', async () => {
    const lines: string[] = [];
    const program = new Command().exitOverride();
    const calls: unknown[] = [];
    addReportCommands(program, { out: (l) => lines.push(l), writeReport: (o) => (calls.push(o), writeReport({ databaseUrl: url, ...o })) });
    const out = join(dir, 'cli.html');
    await program.parseAsync(['node', 'cli', 'report', '--hours', '24', '--until', END.toISOString(), '--out', out]);
    expect(calls).toEqual([{ hours: 24, until: END, out }]);
    expect(lines[0]).toContain(`wrote ${out}`);
    expect(lines[1]).toContain('48 requests, 97 provider calls, 2 policy version(s), 1 proposal(s), 1 experiment(s)');
    await expect(program.parseAsync(['node', 'cli', 'report', '--hours', '0'])).rejects.toThrow('--hours must be positive');
    await expect(program.parseAsync(['node', 'cli', 'report', '--until', 'yesterday'])).rejects.toThrow('--until must be an ISO-8601 time');
  }, 60_000);
});
