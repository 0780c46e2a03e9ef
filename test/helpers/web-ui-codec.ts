/**
 * The Web UI with and without the codec server, in headless Chromium: a private dev server with
 * the Web UI pointed at a codec server's personal endpoint (`--ui-codec-endpoint <url>/ui/<token>`,
 * as the dev scripts configure it), one request through a real worker, then the workflow's page
 * read twice: while the codec server accepts the UI's token (the request's input and answer are
 * readable), and after the codec server was restarted on the same port with other codec keys, so
 * that it refuses that token with 401 (the UI shows ciphertext). Returns the page texts and, when
 * asked, writes both screenshots. Used by test/codec-server/web-ui.test.ts (asserts on the text)
 * and scripts/screenshot-codec-web-ui.ts (writes docs/web-ui-codec-*.png).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import { startCodecServer, type RunningCodecServer } from '../../src/codec-server/start';
import { freePort } from '../../src/free-port';

const ROOT = join(__dirname, '..', '..');
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** The Temporal CLI: $TEMPORAL_CLI, the one scripts/lib.sh installs into .cache/, else `temporal` on PATH. */
export function temporalCli(): string {
  if (process.env['TEMPORAL_CLI']) return process.env['TEMPORAL_CLI'];
  const cached = join(ROOT, '.cache', 'temporal-venv', 'bin', 'temporal');
  return existsSync(cached) ? cached : 'temporal';
}
export const SEARCH_ATTRIBUTES = ['TaskType', 'UserId', 'Complexity', 'RequestStatus'].flatMap((name) => ['--search-attribute', `${name}=Keyword`]);

export interface CodecWebUiOptions {
  prompt: string;
  /** Write web-ui-codec-decoded.png and web-ui-codec-encrypted.png here. */
  screenshotDir?: string;
}

export interface CodecWebUiPage {
  url: string;
  /** The page's visible text (the body's innerText) once it settled. */
  text: string;
  /** Status codes the page's codec requests got. */
  codecStatuses: number[];
  screenshot?: string;
}

export interface CodecWebUiRun {
  workflowId: string;
  prompt: string;
  answer: string;
  decoded: CodecWebUiPage;
  refused: CodecWebUiPage;
}


let spawnError: Error | null = null;

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitForPort(port: number, what: string, server: ChildProcess, ms = 90_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await portOpen(port))) {
    if (server.exitCode !== null || spawnError) throw new Error(`${what}: the dev server (${temporalCli()}) ${spawnError ? `did not start: ${spawnError.message}` : `exited with code ${server.exitCode}`}`);
    if (Date.now() > until) throw new Error(`${what} did not open 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function codecServerOn(port: number, codecKey: string, uiPort: number): Promise<RunningCodecServer> {
  const { PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION } = process.env;
  const env = loadEnv({
    PAYLOAD_KEYS,
    PAYLOAD_KEYS_FILE,
    PAYLOAD_ENCRYPTION,
    CODEC_SERVER_KEYS: codecKey,
    CODEC_SERVER_CORS_ORIGINS: `http://127.0.0.1:${uiPort},http://localhost:${uiPort}`,
  });
  return startCodecServer({ env, logger: createLogger('warn', 'codec-server'), port, adminKeys: false });
}

async function readPage(browser: Browser, url: string, waitFor: string | null, screenshot: string | undefined): Promise<CodecWebUiPage> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1400 } });
  try {
    const page = await context.newPage();
    const codecStatuses: number[] = [];
    page.on('response', (res) => {
      if (/\/ui\/[^/]+\/decode$/.test(new URL(res.url()).pathname)) codecStatuses.push(res.status());
    });
    await page.goto(url, { waitUntil: 'networkidle', timeout: 90_000 });
    // The input and result are drawn after the history and the codec's answer arrive.
    if (waitFor !== null) await page.getByText(waitFor, { exact: false }).first().waitFor({ timeout: 60_000 });
    else {
      // Nothing readable to wait for: wait until the UI asked the codec server and got its answer.
      const until = Date.now() + 60_000;
      while (codecStatuses.length === 0) {
        if (Date.now() > until) throw new Error(`the Web UI at ${url} never called the codec server`);
        await page.waitForTimeout(250);
      }
    }
    await page.waitForLoadState('networkidle', { timeout: 30_000 }).catch(() => undefined);
    await page.waitForTimeout(1_500);
    const text = await page.locator('body').innerText();
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    return { url, text, codecStatuses, ...(screenshot && { screenshot }) };
  } finally {
    await context.close();
  }
}

export async function runCodecWebUi(options: CodecWebUiOptions): Promise<CodecWebUiRun> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium, or set CHROMIUM_PATH`);
  if (options.screenshotDir) mkdirSync(options.screenshotDir, { recursive: true });
  const [temporalPort, uiPort] = [await freePort(), await freePort()];
  const uiToken = randomBytes(24).toString('hex');
  let codec = await codecServerOn(0, uiToken, uiPort);
  const codecPort = Number(new URL(codec.url).port);
  const server = spawn(
    temporalCli(),
    ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(temporalPort), '--ui-port', String(uiPort), '--ui-codec-endpoint', codec.uiEndpoint(uiToken), '--log-level', 'warn', ...SEARCH_ATTRIBUTES],
    { stdio: 'ignore' },
  );
  spawnError = null;
  server.on('error', (err) => (spawnError = err));
  const savedAddress = process.env['TEST_TEMPORAL_ADDRESS'];
  try {
    await waitForPort(temporalPort, 'the dev server', server);
    await waitForPort(uiPort, 'the Web UI', server);
    // The stack helper reads the address from here (a worker and a client on a private task queue).
    process.env['TEST_TEMPORAL_ADDRESS'] = `127.0.0.1:${temporalPort}`;
    const { startStack } = await import('./stack');
    const stack = await startStack({ label: 'web-ui-codec' });
    let workflowId: string;
    let runId: string;
    let answer: string;
    try {
      const result = await stack.client.processRequest({ prompt: options.prompt, taskType: 'question_answering', userId: 'ada', providers: ['openai'], requestId: `web-ui-codec-${Date.now().toString(36)}` });
      answer = result.response;
      const described = await stack.temporal.client.workflow.getHandle(result.metadata.workflowId).describe();
      workflowId = described.workflowId;
      runId = described.runId;
    } finally {
      await stack.close();
    }
    const url = `http://127.0.0.1:${uiPort}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    try {
      const shot = (name: string) => (options.screenshotDir ? join(options.screenshotDir, name) : undefined);
      const decoded = await readPage(browser, url, options.prompt, shot('web-ui-codec-decoded.png'));
      // The same UI, the same endpoint URL: the codec server now holds other codec keys and refuses the UI's token.
      await codec.close();
      codec = await codecServerOn(codecPort, randomBytes(24).toString('hex'), uiPort);
      const refused = await readPage(browser, url, null, shot('web-ui-codec-encrypted.png'));
      return { workflowId, prompt: options.prompt, answer, decoded, refused };
    } finally {
      await browser.close();
    }
  } finally {
    if (savedAddress === undefined) delete process.env['TEST_TEMPORAL_ADDRESS'];
    else process.env['TEST_TEMPORAL_ADDRESS'] = savedAddress;
    server.kill('SIGTERM');
    await codec.close();
  }
}
