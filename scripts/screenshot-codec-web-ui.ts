/**
 * Screenshots of one request in the Temporal Web UI with the codec server
 * (docs/web-ui-codec-decoded.png: the Web UI's codec endpoint accepted, input and answer readable)
 * and with the codec server refusing the UI's token (docs/web-ui-codec-encrypted.png: ciphertext).
 *
 *   npm run screenshots            (both Web UI screenshots of docs/)
 *   npx tsx scripts/screenshot-codec-web-ui.ts [out-dir]
 *
 * Starts its own in-memory dev server with the Web UI on free ports, a codec server, a worker on
 * the emulator, and headless Chromium (CHROMIUM_PATH, default /usr/bin/chromium), and stops them
 * (test/helpers/web-ui-codec.ts, which test/codec-server/web-ui.test.ts runs too).
 */
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { runCodecWebUi } from '../test/helpers/web-ui-codec';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const outDir = process.argv[2] ?? join(__dirname, '..', 'docs');
  const run = await runCodecWebUi({ prompt: 'Which river runs through Lisbon?', screenshotDir: outDir });
  if (!run.decoded.text.includes(run.prompt)) throw new Error('the decoded page does not show the prompt: not writing a misleading screenshot');
  if (run.refused.text.includes(run.prompt)) throw new Error('the refused page shows the prompt');
  console.log(`request ${run.workflowId}`);
  console.log(`decoded (codec answers ${[...new Set(run.decoded.codecStatuses)].join(', ')}) -> ${run.decoded.screenshot ?? ''}`);
  console.log(`refused (codec answers ${[...new Set(run.refused.codecStatuses)].join(', ')}) -> ${run.refused.screenshot ?? ''}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
