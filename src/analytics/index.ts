/**
 * The analytics API: performance overview, provider comparison and export over the memory's tables.
 * Each function takes a Prisma client (createPrismaClient) so that a caller holding one (the report)
 * reuses it; `openAnalytics(databaseUrl)` opens one of its own, maps an unreachable database to
 * DatabaseConnectionError (password redacted), and closes it with `close()`.
 */
import { createPrismaClient, type CreatePrismaClientOptions, type DatabaseClient } from '../memory/client';
import { databaseConnectionError, isConnectionError } from '../memory/database-url';
import { exportMetrics, type ExportResult } from './export';
import { getPerformanceMetrics, getProviderComparison, type PerformanceMetrics, type ProviderComparison } from './metrics';
import type { AnalyticsWindowOptions, ExportOptions, PerformanceMetricsOptions } from './options';

export { exportMetrics, EXPORT_COLUMNS, EXPORT_TEXT_COLUMNS, type ExportResult } from './export';
export {
  bestProviderCriterion,
  DEFAULT_BEST_PROVIDER_MIN_CALLS,
  getPerformanceMetrics,
  getProviderComparison,
  pickBestProvider,
  type AnalyticsWindow,
  type BestProvider,
  type PerformanceMetrics,
  type ProviderComparison,
  type ProviderComparisonRow,
  type ProviderQuality,
} from './metrics';
export { EXPORT_FORMATS, type AnalyticsWindowOptions, type ExportFormat, type ExportOptions, type PerformanceMetricsOptions } from './options';

export interface Analytics {
  getPerformanceMetrics(options: PerformanceMetricsOptions): Promise<PerformanceMetrics>;
  getProviderComparison(options: AnalyticsWindowOptions): Promise<ProviderComparison>;
  exportMetrics(path: string, options: ExportOptions): Promise<ExportResult>;
  close(): Promise<void>;
}

export function openAnalytics(databaseUrl: string, options: CreatePrismaClientOptions & { client?: DatabaseClient } = {}): Analytics {
  const db = options.client ?? createPrismaClient(databaseUrl, options);
  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isConnectionError(error)) throw databaseConnectionError(databaseUrl, error, action);
      throw error;
    }
  }
  return {
    getPerformanceMetrics: (o) => guard('read performance metrics', () => getPerformanceMetrics(db, o)),
    getProviderComparison: (o) => guard('read the provider comparison', () => getProviderComparison(db, o)),
    exportMetrics: (p, o) => guard('export metrics', () => exportMetrics(db, p, o)),
    close: () => db.$disconnect(),
  };
}
