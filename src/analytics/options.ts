/**
 * The analytics API's options, checked at the boundary: a bad value is InvalidRequest whose issues
 * name the option (`timeWindowHours`, `taskType`, `days`, `format`, `path`), before any query runs
 * or any file is opened.
 */
import { z } from 'zod';
import { InvalidRequest, zodIssues } from '../errors';

/** At most ten years back: a window wider than that is a typo (hours for days, ms for hours). */
const MAX_HOURS = 24 * 366 * 10;
const MAX_DAYS = 366 * 10;

export const AnalyticsWindowSchema = z
  .object({
    timeWindowHours: z
      .number({ error: 'timeWindowHours must be a number of hours' })
      .finite('timeWindowHours must be finite')
      .positive('timeWindowHours must be greater than 0')
      .max(MAX_HOURS, `timeWindowHours must be at most ${MAX_HOURS} (ten years)`),
    /** Only interactions of this task type. */
    taskType: z.string().min(1, 'taskType must not be empty').max(200).optional(),
    /** The end of the window (default: now); tests and reports pin it. */
    now: z.date().optional(),
  })
  .strict();
export type AnalyticsWindowOptions = z.input<typeof AnalyticsWindowSchema>;

export const PerformanceMetricsOptionsSchema = AnalyticsWindowSchema.extend({
  /** Decided calls (succeeded + failed) a provider:model needs in the window to be named best (default 5). */
  bestProviderMinCalls: z.number().int('bestProviderMinCalls must be an integer').min(1, 'bestProviderMinCalls must be at least 1').optional(),
}).strict();
export type PerformanceMetricsOptions = z.input<typeof PerformanceMetricsOptionsSchema>;

export const EXPORT_FORMATS = ['json', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const ExportOptionsSchema = z
  .object({
    days: z
      .number({ error: 'days must be a number of days' })
      .finite('days must be finite')
      .positive('days must be greater than 0')
      .max(MAX_DAYS, `days must be at most ${MAX_DAYS} (ten years)`),
    format: z.enum(EXPORT_FORMATS, {
      error: (issue) => `format must be "json" or "csv"${issue.input === 'parquet' ? ' (parquet is not supported: export csv and convert it)' : ''}, got ${JSON.stringify(issue.input)}`,
    }),
    /** Include prompts, system prompts, answers and error messages (user data; default false). */
    includeText: z.boolean().optional(),
    taskType: z.string().min(1, 'taskType must not be empty').max(200).optional(),
    now: z.date().optional(),
    /** Interactions read per query (default 500): memory is bounded by this, not by the table. */
    pageSize: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();
export type ExportOptions = z.input<typeof ExportOptionsSchema>;

export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new InvalidRequest(`invalid ${what} options: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return parsed.data;
}

export function exportPathIssue(message: string): InvalidRequest {
  return new InvalidRequest(`invalid export options: path: ${message}`, [{ path: 'path', message }]);
}
