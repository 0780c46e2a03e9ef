/**
 * `npm run codec-server`: Temporal's codec server protocol over the payload keys (server.ts), for
 * the Web UI and `temporal workflow show --codec-endpoint`.
 *
 *   CODEC_SERVER_PORT (8888), CODEC_SERVER_HOST (127.0.0.1)  where it listens (loopback unless configured)
 *   CODEC_SERVER_KEYS                 comma-separated access tokens (besides the gateway's admin API keys)
 *   CODEC_SERVER_CORS_ORIGINS         the Web UI origins (default: TEMPORAL_UI_URL's, and its localhost/127.0.0.1 twin)
 *   CODEC_SERVER_BODY_LIMIT           bytes (default 16 MiB)
 *   PAYLOAD_KEYS / PAYLOAD_KEYS_FILE  the payload keys (as the worker reads them); DATABASE_URL for admin keys
 *
 * Stops on SIGINT/SIGTERM.
 */
import { loadEnv } from '../config/env';
import { OrchestratorError } from '../errors';
import { createLogger } from '../logger';
import { startCodecServer } from './start';

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger(env.LOG_LEVEL, 'codec-server');
  const server = await startCodecServer({ env, logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'codec server stopping');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'codec server did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof OrchestratorError ? `codec-server: ${err.message}` : 'codec server failed:', err instanceof OrchestratorError ? '' : err);
    process.exit(1);
  });
}
