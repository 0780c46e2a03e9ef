/**
 * This worker's recent outcomes per circuit key, so a failure counts against the shared circuit
 * only while the provider is failing at a meaningful rate here: a busy provider with a low error
 * rate (1 % of 1000 calls a minute) must not open its circuit just because the absolute number of
 * failures in the window reached the threshold. Outcomes older than the window are forgotten.
 */
export class FailureRateWindow {
  private readonly outcomes = new Map<string, { at: number; failed: boolean }[]>();

  constructor(
    private readonly windowMs: number,
    /** Most outcomes kept per key (the oldest are dropped first). */
    private readonly maxPerKey = 1000,
  ) {
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive');
  }

  record(key: string, failed: boolean, now = Date.now()): void {
    const list = this.prune(key, now);
    list.push({ at: now, failed });
    if (list.length > this.maxPerKey) list.splice(0, list.length - this.maxPerKey);
    this.outcomes.set(key, list);
  }

  /** Share of this key's calls in the window that failed (0 with none). */
  failureRate(key: string, now = Date.now()): number {
    const list = this.prune(key, now);
    if (list.length === 0) return 0;
    return list.filter((o) => o.failed).length / list.length;
  }

  private prune(key: string, now: number): { at: number; failed: boolean }[] {
    const list = this.outcomes.get(key) ?? [];
    const from = now - this.windowMs;
    let i = 0;
    while (i < list.length && list[i]!.at < from) i++;
    if (i > 0) list.splice(0, i);
    return list;
  }
}
