/**
 * `npm run gateway`: the OpenAI-compatible HTTP gateway (src/gateway/server.ts).
 *
 *   GATEWAY_PORT (8787), GATEWAY_HOST (127.0.0.1)   where it listens (loopback unless configured)
 *   GATEWAY_WORKER (on)                             on: a worker runs in this process (eager start,
 *                                                   live token streaming); off: a pure client
 *   GATEWAY_WAIT_TIMEOUT_MS                         the wait before 504 (the workflow keeps running)
 *   and the worker's variables (TEMPORAL_*, DATABASE_URL, CONFIG_PATH; see worker.ts).
 *
 * Stops on SIGINT/SIGTERM: stops accepting requests, lets the in-process worker finish its tasks.
 */
import { loadEnv } from '../config/env';
import { OrchestratorError } from '../errors';
import { createLogger } from '../logger';
import { startGateway } from './start';

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger(env.LOG_LEVEL, 'gateway', undefined, { logPrompts: env.LOG_PROMPTS === 'on' });
  const gateway = await startGateway({ env, logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'gateway stopping');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'gateway did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof OrchestratorError ? `gateway: ${err.message}` : 'gateway failed:', err instanceof OrchestratorError ? '' : err);
    process.exit(1);
  });
}
