/**
 * Screenshot of one request in the Temporal Web UI (docs/web-ui-request.png): the workflow's
 * static summary (task type, user, providers), its current details (the route, who answered) and
 * the timeline, where each callProvider bar is named provider:model and the planning and
 * consensus local activities say what they decide.
 *
 *   npx tsx scripts/screenshot-web-ui.ts [out.png]
 *
 * Starts its own in-memory dev server with the Web UI (ports SCREENSHOT_TEMPORAL_PORT 7255,
 * SCREENSHOT_UI_PORT 8255, so it never meets the demo's or the tests'), a worker on the emulator,
 * runs one consensus request, photographs the workflow page in headless Chromium
 * (CHROMIUM_PATH, default /usr/bin/chromium; Debian: apt-get install chromium) and stops the
 * server it started. Payloads (and the activities' summaries) are encrypted: the UI reads them
 * through a codec server started alongside (`--ui-codec-endpoint`, src/codec-server), as in
 * `npm run demo`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { startCodecServer } from '../src/codec-server/start';
import { loadEnv } from '../src/config/env';
import { createLogger } from '../src/logger';
import { portOpen, SEARCH_ATTRIBUTES, temporalCli } from '../test/helpers/web-ui-codec';

const ROOT = join(__dirname, '..');
const PORT = Number(process.env['SCREENSHOT_TEMPORAL_PORT'] ?? 7255);
const UI_PORT = Number(process.env['SCREENSHOT_UI_PORT'] ?? 8255);
const OUT = process.argv[2] ?? join(ROOT, 'docs', 'web-ui-request.png');
const CLI = temporalCli();
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

async function waitForPort(port: number, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await portOpen(port))) {
    if (Date.now() > until) throw new Error(`${what} did not open 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`Temporal CLI not found at ${CLI}: set TEMPORAL_CLI (scripts/lib.sh installs one into .cache/temporal-venv)`);
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  for (const port of [PORT, UI_PORT]) if (await portOpen(port)) throw new Error(`port ${port} is in use: set SCREENSHOT_TEMPORAL_PORT / SCREENSHOT_UI_PORT`);

  const uiToken = randomBytes(24).toString('hex');
  const { PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION } = process.env;
  const codecEnv = loadEnv({ PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION, CODEC_SERVER_KEYS: uiToken, CODEC_SERVER_CORS_ORIGINS: `http://127.0.0.1:${UI_PORT},http://localhost:${UI_PORT}` });
  const codec = await startCodecServer({ env: codecEnv, logger: createLogger('warn', 'codec-server'), port: 0, adminKeys: false });
  const server = spawn(CLI, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(PORT), '--ui-port', String(UI_PORT), '--ui-codec-endpoint', codec.uiEndpoint(uiToken), '--log-level', 'warn', ...SEARCH_ATTRIBUTES], { stdio: 'ignore' });
  try {
    await waitForPort(PORT, 'the dev server');
    await waitForPort(UI_PORT, 'the Web UI');
    // The stack helper reads the address from here (a worker and client on a private task queue).
    process.env['TEST_TEMPORAL_ADDRESS'] = `127.0.0.1:${PORT}`;
    const { startStack } = await import('../test/helpers/stack');
    const stack = await startStack({ label: 'web-ui' });
    let url: string;
    try {
      const result = await stack.client.processRequest({
        prompt: 'What is 17 * 23?',
        taskType: 'question_answering',
        userId: 'ada',
        requireConsensus: true,
        providers: ['openai', 'anthropic', 'google'],
        requestId: `web-ui-${Date.now().toString(36)}`,
      });
      const described = await stack.temporal.client.workflow.getHandle(result.metadata.workflowId).describe();
      url = `http://127.0.0.1:${UI_PORT}/namespaces/default/workflows/${encodeURIComponent(described.workflowId)}/${described.runId}/timeline`;
      console.log(`request ${described.workflowId}: ${result.response.slice(0, 60)}`);
    } finally {
      await stack.close();
    }

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 1300 } });
      await page.goto(url, { waitUntil: 'networkidle', timeout: 60_000 });
      // The timeline draws after the history loads.
      await page.getByText('openai:', { exact: false }).first().waitFor({ timeout: 30_000 });
      // The summary and current details (Temporal user metadata) open above the timeline.
      const metadata = page.getByText('Summary & Details', { exact: false }).first();
      if (await metadata.isVisible().catch(() => false)) await metadata.click().catch(() => undefined);
      await page.waitForTimeout(1_500);
      mkdirSync(dirname(OUT), { recursive: true });
      await page.screenshot({ path: OUT, fullPage: true });
      console.log(`screenshot of ${url} -> ${OUT}`);
    } finally {
      await browser.close();
    }
  } finally {
    server.kill('SIGTERM');
    await codec.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
