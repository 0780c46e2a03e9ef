/**
 * Helpers of the example applications' tests: the environment an example's worker gets on the test
 * Temporal server (no provider keys: every provider emulated), and `npm run example:<name>` run once
 * as a user runs it, on the same server (scripts/example.sh reuses a server answering on TEMPORAL_PORT).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requiredService } from '../helpers/services';

const run = promisify(execFile);

/** TEMPORAL_ADDRESS of the test server and the checkout's payload keys; no API keys. */
export function exampleEnvironment(): NodeJS.ProcessEnv {
  const { PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION } = process.env;
  return { TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'error', PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION };
}

/** `npm run --silent example:<name> -- <args>` against the test server; its standard output. */
export async function runNpmExample(name: string, args: string[]): Promise<string> {
  const address = requiredService('TEST_TEMPORAL_ADDRESS');
  const port = /:(\d+)$/.exec(address)?.[1];
  if (!address.startsWith('127.0.0.1:') || !port) throw new Error(`TEST_TEMPORAL_ADDRESS must be 127.0.0.1:<port> for scripts/example.sh (got ${address})`);
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_PORT: port, LOG_LEVEL: 'error' };
  // Emulated answers whatever keys this shell has.
  for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GOOGLE_API_KEY', 'EMULATOR_URL']) delete env[key];
  const { stdout } = await run('npm', ['run', '--silent', `example:${name}`, '--', ...args], { env, maxBuffer: 16 * 1024 * 1024, timeout: 170_000 });
  return stdout;
}
