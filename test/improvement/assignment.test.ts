import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assignRequest, assignVariant, trafficBucket, variantBucket, variantForBucket, type AssignableExperiment } from '../../src/improvement/assignment';
import { sha256Hex, shortId, unitInterval } from '../../src/improvement/hash';

const experiment: AssignableExperiment = {
  id: 'exp-prompt-qa',
  taskType: 'question_answering',
  status: 'running',
  trafficShare: 0.3,
  variants: [
    { name: 'control', share: 0.5 },
    { name: 'concise', share: 0.3 },
    { name: 'stepwise', share: 0.2 },
  ],
};

const ids = (n: number, prefix = 'req') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('hash', () => {
  it('is SHA-256: matches node:crypto on ASCII, multi-byte text, and block-boundary lengths', () => {
    const inputs = ['', 'abc', 'exp-1:traffic:req-42', 'héllo wörld ✓ 🚀', 'a'.repeat(55), 'b'.repeat(56), 'c'.repeat(64), 'd'.repeat(1000)];
    for (const text of inputs) expect(sha256Hex(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
  });

  it('unitInterval is the first 52 bits of the digest over 2^52, in [0, 1)', () => {
    const text = 'exp-1:variant:req-7';
    const hex = createHash('sha256').update(text).digest('hex');
    expect(unitInterval(text)).toBe(Number(BigInt(`0x${hex.slice(0, 13)}`)) / 2 ** 52);
    for (const id of ids(1000)) {
      const u = unitInterval(id);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
    expect(shortId('p', 'x')).toBe(`p-${createHash('sha256').update('x').digest('hex').slice(0, 12)}`);
  });
});

describe('assignment', () => {
  it('is stable: the same request always gets the same variant, in this process and in a fresh one', () => {
    const here = ids(200).map((id) => assignVariant(experiment, id));
    expect(ids(200).map((id) => assignVariant(experiment, id))).toEqual(here);
    // A separate Node process (no shared state, no module cache) computes the same assignments.
    const script = `const { assignVariant } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'improvement', 'assignment.ts'))});
      const e = ${JSON.stringify(experiment)};
      console.log(JSON.stringify(Array.from({ length: 200 }, (_, i) => assignVariant(e, 'req-' + i))));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(here);
  });

  it('pins a few assignments, so a change to the hashing scheme cannot go unnoticed', () => {
    // Buckets are unit(SHA-256("<experiment>:traffic|variant:<request>")): recompute with any SHA-256 tool.
    const u = (s: string) => Number(BigInt(`0x${createHash('sha256').update(s).digest('hex').slice(0, 13)}`)) / 2 ** 52;
    for (const id of ['req-0', 'req-1', 'user-42-7']) {
      expect(trafficBucket(experiment.id, id)).toBe(u(`${experiment.id}:traffic:${id}`));
      expect(variantBucket(experiment.id, id)).toBe(u(`${experiment.id}:variant:${id}`));
    }
  });

  it('splits traffic and variants in proportion to their shares', () => {
    const n = 20_000;
    const counts = new Map<string | null, number>();
    for (const id of ids(n)) {
      const v = assignVariant(experiment, id);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const inExperiment = n - (counts.get(null) ?? 0);
    // Binomial standard deviation at n = 20 000, share 0.3: 0.0032; allow 4 sd.
    expect(Math.abs(inExperiment / n - 0.3)).toBeLessThan(0.013);
    for (const v of experiment.variants) {
      const share = (counts.get(v.name) ?? 0) / inExperiment;
      expect(Math.abs(share - v.share)).toBeLessThan(4 * Math.sqrt((v.share * (1 - v.share)) / inExperiment));
    }
  });

  it('raising the traffic share keeps every request that was in the experiment in its variant', () => {
    const wider = { ...experiment, trafficShare: 0.8 };
    for (const id of ids(2000)) {
      const before = assignVariant(experiment, id);
      if (before !== null) expect(assignVariant(wider, id)).toBe(before);
    }
  });

  it('different experiments draw independently', () => {
    const other = { ...experiment, id: 'exp-other' };
    const both = ids(10_000).filter((id) => assignVariant(experiment, id) !== null && assignVariant(other, id) !== null).length;
    // Independent draws: 0.3 × 0.3 = 9% of requests are in both.
    expect(Math.abs(both / 10_000 - 0.09)).toBeLessThan(0.015);
  });

  it('variantForBucket follows cumulative shares', () => {
    expect(variantForBucket(experiment.variants, 0)).toBe('control');
    expect(variantForBucket(experiment.variants, 0.4999)).toBe('control');
    expect(variantForBucket(experiment.variants, 0.5)).toBe('concise');
    expect(variantForBucket(experiment.variants, 0.8)).toBe('stepwise');
    expect(variantForBucket(experiment.variants, 0.9999999)).toBe('stepwise');
    expect(() => variantForBucket([], 0.5)).toThrow(RangeError);
  });

  it('assignRequest: only running experiments of the task type, at most one experiment per request', () => {
    const a = { ...experiment, id: 'exp-a', trafficShare: 0.5 };
    const b = { ...experiment, id: 'exp-b', trafficShare: 0.5 };
    const stopped = { ...experiment, id: 'exp-0', status: 'stopped', trafficShare: 1 };
    const otherTask = { ...experiment, id: 'exp-00', taskType: 'code_generation', trafficShare: 1 };
    const seen = new Map<string, number>();
    for (const id of ids(4000)) {
      const got = assignRequest([b, stopped, otherTask, a], { requestId: id, taskType: 'question_answering' });
      const key = got?.experimentId ?? 'none';
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (got?.experimentId === 'exp-a') expect(got.variant).toBe(assignVariant(a, id));
      // exp-b only sees requests exp-a (tried first, by id) did not take.
      if (got?.experimentId === 'exp-b') expect(assignVariant(a, id)).toBeNull();
    }
    expect([...seen.keys()].sort()).toEqual(['exp-a', 'exp-b', 'none']);
    expect(Math.abs((seen.get('exp-a') ?? 0) / 4000 - 0.5)).toBeLessThan(0.04);
    expect(Math.abs((seen.get('exp-b') ?? 0) / 4000 - 0.25)).toBeLessThan(0.04);
    expect(assignRequest([a], { requestId: 'r', taskType: 'summarization' })).toBeNull();
  });
});
