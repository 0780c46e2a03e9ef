/**
 * Exact percentiles, computed by the database on SQLite and PostgreSQL alike.
 *
 * Method: linear interpolation between the two closest ranks (Hyndman & Fan type 7: the one of
 * PostgreSQL's `percentile_cont`, numpy's default and Excel's PERCENTILE.INC). For n sorted values
 * x[0..n-1] and p in [0, 1]: h = (n - 1) * p, and the p-th percentile is
 * x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
 *
 * SQLite has no percentile function, so neither database is asked for one: each percentile is one
 * ordered query that skips floor(h) rows and reads at most two (`ORDER BY value LIMIT 2 OFFSET k`),
 * which both run from an index or a sort, never loading the column into this process. For values
 * already in memory the same method is src/improvement/statistics.ts `percentile`.
 */

/** Where the p-th percentile of n values falls: the lower rank (0-based) and the fraction towards the next. */
export function rankOf(n: number, p: number): { index: number; fraction: number } {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile must be in [0, 1], got ${p}`);
  const h = (n - 1) * p;
  const index = Math.floor(h);
  return { index, fraction: h - index };
}

/**
 * Percentiles of `count` values read through `valuesAt(skip, take)`, which returns the values at
 * ascending ranks skip..skip+take-1 (an ordered query). Null when count is 0.
 */
export async function percentilesFromDatabase<P extends string>(
  count: number,
  ps: Record<P, number>,
  valuesAt: (skip: number, take: number) => Promise<number[]>,
): Promise<Record<P, number> | null> {
  if (count === 0) return null;
  const out = {} as Record<P, number>;
  for (const [name, p] of Object.entries(ps) as [P, number][]) {
    const { index, fraction } = rankOf(count, p);
    const values = await valuesAt(index, fraction > 0 ? 2 : 1);
    const lo = values[0];
    if (lo === undefined) throw new Error(`percentile query returned no row at rank ${index} of ${count} (rows changed during the query?)`);
    const hi = values[1] ?? lo;
    out[name] = lo + fraction * (hi - lo);
  }
  return out;
}
