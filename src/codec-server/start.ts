/**
 * Start the codec server from the environment: the payload keys (PAYLOAD_KEYS / PAYLOAD_KEYS_FILE /
 * the checkout's generated .data/payload-keys, as every worker and client reads them), the codec
 * keys (CODEC_SERVER_KEYS), the gateway's API keys (DATABASE_URL, admin keys only), the Web UI's
 * origins. Shared by `npm run codec-server` (main.ts) and the tests.
 */
import type { FastifyInstance } from 'fastify';
import { openKeyStore } from '../auth/open-key-store';
import type { Env } from '../config/env';
import { ConfigError } from '../errors';
import { createLogger, type Logger } from '../logger';
import { payloadCodecFor } from '../temporal/data-converter';
import { accessChecker, corsOrigins, parseCodecKeys } from './access';
import { buildCodecServer } from './server';

export interface StartCodecServerOptions {
  env: Env;
  logger?: Logger;
  /** Default env.CODEC_SERVER_PORT / CODEC_SERVER_HOST (0: any free port). */
  port?: number;
  host?: string;
  /** Accept the gateway's admin API keys from env.DATABASE_URL (default true). */
  adminKeys?: boolean;
}

export interface RunningCodecServer {
  app: FastifyInstance;
  /** http://host:port: the CLI's --codec-endpoint. */
  url: string;
  /** The Web UI's personal endpoint URL for a token: `<url>/ui/<token>`. */
  uiEndpoint(token: string): string;
  close(): Promise<void>;
}

export async function startCodecServer(options: StartCodecServerOptions): Promise<RunningCodecServer> {
  const { env } = options;
  const logger = options.logger ?? createLogger(env.LOG_LEVEL, 'codec-server');
  const codec = payloadCodecFor(env);
  if (!codec) {
    throw new ConfigError('PAYLOAD_ENCRYPTION=off: payloads are stored in plain text, there is nothing for a codec server to decode', [{ path: 'PAYLOAD_ENCRYPTION', message: 'off' }]);
  }
  const codecKeys = parseCodecKeys(env.CODEC_SERVER_KEYS);
  const store = options.adminKeys === false ? null : openKeyStore(env.DATABASE_URL);
  const origins = corsOrigins(env);
  const app = await buildCodecServer({
    codec,
    checkAccess: accessChecker({ codecKeys, ...(store && { authenticateApiKey: (key: string) => store.keys.authenticate(key) }) }),
    corsOrigins: origins,
    logger,
    ...(env.CODEC_SERVER_BODY_LIMIT !== undefined && { bodyLimit: env.CODEC_SERVER_BODY_LIMIT }),
  });
  try {
    await app.listen({ port: options.port ?? env.CODEC_SERVER_PORT, host: options.host ?? env.CODEC_SERVER_HOST });
  } catch (err) {
    await store?.close();
    throw err;
  }
  const address = app.server.address();
  const url = typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  if (codecKeys.length === 0 && !store) logger.warn('no CODEC_SERVER_KEYS and no admin keys: every request will be refused');
  logger.info(
    { url, keyIds: codec.keyring.keys.map((k) => k.id), keySource: codec.keyring.source, codecKeys: codecKeys.length, adminKeys: store !== null, corsOrigins: origins },
    'codec server listening',
  );
  return {
    app,
    url,
    uiEndpoint: (token) => `${url}/ui/${encodeURIComponent(token)}`,
    async close() {
      await app.close();
      await store?.close();
    },
  };
}
