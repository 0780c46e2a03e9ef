import pino, { type Logger } from 'pino';

/**
 * Structured logs (JSON lines). Anything that could hold a credential is redacted by path,
 * in addition to connectors never putting keys into messages.
 */
export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info', name = 'orchestrator'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers.authorization', '*.headers.authorization', 'headers["x-api-key"]', 'env', '*.env'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
