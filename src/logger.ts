import pino, { type DestinationStream, type Logger } from 'pino';
import { scrubLogObject } from './privacy/log-text';

export interface LoggerOptions {
  /** LOG_PROMPTS=on: prompt and answer text may appear in debug and trace lines (default: the LOG_PROMPTS variable; off). */
  logPrompts?: boolean;
}

/** pino's level numbers: trace 10, debug 20, info 30. */
const INFO = 30;

/**
 * Structured logs (JSON lines). Anything that could hold a credential is redacted by path,
 * in addition to connectors never putting keys into messages. Request text (prompts, answers,
 * failures that quote them) is redacted at every level unless LOG_PROMPTS=on, and at info and
 * above always (src/privacy/log-text.ts); payload bytes are reduced to their size.
 */
export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info', name = 'orchestrator', destination?: DestinationStream, loggerOptions: LoggerOptions = {}): Logger {
  const logPrompts = loggerOptions.logPrompts ?? process.env['LOG_PROMPTS'] === 'on';
  const options = {
    name,
    level,
    // Errors reach pino already scrubbed (plain objects); its own serializer would rename their type.
    serializers: { err: (v: unknown) => (v instanceof Error ? pino.stdSerializers.err(v) : v) },
    hooks: {
      // pino's `redact` cannot see the level; this hook can (it runs only for enabled levels).
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void, levelValue: number) {
        const first = args[0];
        if (first !== null && typeof first === 'object') {
          const scrubbed = scrubLogObject(first, logPrompts && levelValue < INFO);
          // logger.warn(err): keep pino's shape ({ err }, message) without its serializer seeing the raw error.
          if (first instanceof Error) args.splice(0, 1, { err: scrubbed }, ...(args.length > 1 ? [] : [(scrubbed as { message?: unknown }).message]));
          else args[0] = scrubbed;
        }
        method.apply(this, args);
      },
    },
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers.authorization', '*.headers.authorization', 'headers["x-api-key"]', 'env', '*.env'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
