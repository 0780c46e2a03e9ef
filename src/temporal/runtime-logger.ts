/**
 * Route the Temporal SDK's own logs (worker state, activity failures) into our pino logger, at
 * our level, so a process writes one log stream.
 */
import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import { ConfigError } from '../errors';
import type { Logger } from '../logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export interface TemporalRuntimeOptions {
  /**
   * Export the SDK's own metrics (workflow/activity task latencies, slots, poll results) in
   * Prometheus format at `host:port/metrics` (METRICS_HOST:METRICS_SDK_PORT); absent: none.
   */
  prometheusBindAddress?: string;
}

/** Install the process's one Temporal Runtime: our logger, and the SDK metrics exporter when asked. */
export function installTemporalLogger(logger: Logger, options: TemporalRuntimeOptions = {}): void {
  const child = logger.child({ component: 'temporal' });
  const adapter: TemporalLogger = {
    log: (level: LogLevel, message: string, meta?: LogMetadata) => child[LEVELS[level]](meta ?? {}, message),
    trace: (message, meta) => child.trace(meta ?? {}, message),
    debug: (message, meta) => child.debug(meta ?? {}, message),
    info: (message, meta) => child.info(meta ?? {}, message),
    warn: (message, meta) => child.warn(meta ?? {}, message),
    error: (message, meta) => child.error(meta ?? {}, message),
  };
  const bindAddress = options.prometheusBindAddress;
  try {
    Runtime.install({ logger: adapter, ...(bindAddress && { telemetryOptions: { metrics: { prometheus: { bindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } } } }) });
  } catch (err) {
    if (bindAddress && /address|bind|in use/i.test((err as Error).message)) {
      throw new ConfigError(`METRICS_SDK_PORT: cannot serve the Temporal SDK metrics on ${bindAddress} (${(err as Error).message}); set METRICS_SDK_PORT to a free port or off`, [{ path: 'METRICS_SDK_PORT', message: 'address unavailable' }]);
    }
    throw err;
  }
}
