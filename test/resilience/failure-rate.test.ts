import { describe, expect, it } from 'vitest';
import { FailureRateWindow } from '../../src/resilience/failure-rate';

describe('FailureRateWindow', () => {
  it('is the share of failed calls in the window, per key', () => {
    const w = new FailureRateWindow(60_000);
    for (let i = 0; i < 99; i++) w.record('openai', false, 1_000 + i);
    w.record('openai', true, 2_000);
    w.record('google', true, 2_000);
    expect(w.failureRate('openai', 2_000)).toBeCloseTo(0.01, 9);
    expect(w.failureRate('google', 2_000)).toBe(1);
    expect(w.failureRate('anthropic', 2_000)).toBe(0);
  });

  it('forgets outcomes older than the window', () => {
    const w = new FailureRateWindow(10_000);
    w.record('k', true, 0);
    w.record('k', false, 9_000);
    expect(w.failureRate('k', 9_000)).toBe(0.5);
    expect(w.failureRate('k', 10_001)).toBe(0);
  });

  it('keeps at most maxPerKey outcomes, dropping the oldest', () => {
    const w = new FailureRateWindow(60_000, 4);
    w.record('k', true, 1);
    for (let i = 0; i < 4; i++) w.record('k', false, 2 + i);
    expect(w.failureRate('k', 10)).toBe(0);
  });
});
