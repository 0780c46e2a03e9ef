/**
 * Route the Temporal SDK's own logs (worker state, activity failures) into our pino logger, at
 * our level, so a process writes one log stream.
 */
import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export function installTemporalLogger(logger: Logger): void {
  const child = logger.child({ component: 'temporal' });
  const adapter: TemporalLogger = {
    log: (level: LogLevel, message: string, meta?: LogMetadata) => child[LEVELS[level]](meta ?? {}, message),
    trace: (message, meta) => child.trace(meta ?? {}, message),
    debug: (message, meta) => child.debug(meta ?? {}, message),
    info: (message, meta) => child.info(meta ?? {}, message),
    warn: (message, meta) => child.warn(meta ?? {}, message),
    error: (message, meta) => child.error(meta ?? {}, message),
  };
  Runtime.install({ logger: adapter });
}
