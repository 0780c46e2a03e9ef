import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Structured logs (JSON lines). Anything that could hold a credential is redacted by path,
 * in addition to connectors never putting keys into messages.
 */
export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info', name = 'orchestrator', destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers.authorization', '*.headers.authorization', 'headers["x-api-key"]', 'env', '*.env'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
