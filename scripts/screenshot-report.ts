/**
 * Screenshot of the HTML report (docs/report.png): a scratch SQLite database seeded with the
 * report test's known data (test/report/fixtures.ts), `writeReport` over its 24 hours, the page
 * opened in headless Chromium (CHROMIUM_PATH, default /usr/bin/chromium) with the network refused.
 *
 *   npm run screenshots:report      (also part of `npm run screenshots`)
 *   npx tsx scripts/screenshot-report.ts [out.png]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createPrismaClient } from '../src/memory/client';
import { applyMigrations } from '../src/memory/migrate';
import { writeReport } from '../src/report';
import { END, seedReportDb } from '../test/report/fixtures';

async function main(): Promise<void> {
  const png = process.argv[2] ?? join(__dirname, '..', 'docs', 'report.png');
  const dir = mkdtempSync(join(tmpdir(), 'report-shot-'));
  try {
    const url = `file:${join(dir, 'report.db')}`;
    await applyMigrations(url);
    const db = createPrismaClient(url);
    try {
      await seedReportDb(db, { hostileNames: false });
    } finally {
      await db.$disconnect();
    }
    const html = join(dir, 'report.html');
    const result = await writeReport({ databaseUrl: url, hours: 24, until: END, out: html, now: END });
    const browser = await chromium.launch({
      executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1040, height: 900 } });
      await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
      await page.goto(`file://${html}`);
      if ((await page.locator('.no-data').count()) > 0) throw new Error('the report shows "no data" sections: not writing a misleading screenshot');
      await page.screenshot({ path: png, fullPage: true });
    } finally {
      await browser.close();
    }
    console.log(`report of ${result.interactions} requests, ${result.providerCalls} calls -> ${png}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
