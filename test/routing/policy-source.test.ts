/**
 * The workflow policy source ends a load only when both of its queries have ended: a query still
 * in the gRPC client's retry backoff when the worker closes its connection throws "Channel has
 * been shut down" from a timer (an uncaught exception), so stop() must be able to wait for it.
 */
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { workflowPolicySource } from '../../src/routing/policy-cache';
import { currentPolicyQuery } from '../../workflows/routing-policy';

function fakeClient(answers: { policy: () => Promise<unknown>; stats: () => Promise<unknown> }): Client {
  const handle = { query: (def: unknown) => (def === currentPolicyQuery ? answers.policy() : answers.stats()) };
  return { workflow: { getHandle: () => handle }, withDeadline: (_: number, fn: () => Promise<unknown>) => fn() } as unknown as Client;
}

describe('workflowPolicySource', () => {
  it('a failed query rejects the load only after the other query has settled too', async () => {
    let statsEnded = false;
    const source = workflowPolicySource(
      fakeClient({
        policy: () => Promise.reject(new Error('query failed: worker shutting down')),
        stats: () => new Promise((resolve) => setTimeout(() => ((statsEnded = true), resolve({})), 50)),
      }),
    );
    await expect(source.load()).rejects.toThrow('worker shutting down');
    expect(statsEnded).toBe(true);
  });

  it('both answers make the snapshot; a failed stats query fails the load', async () => {
    const policy = { version: 3 };
    const ok = workflowPolicySource(fakeClient({ policy: async () => policy, stats: async () => ({ cells: [] }) }));
    await expect(ok.load()).resolves.toEqual({ policy, stats: { cells: [] } });
    const bad = workflowPolicySource(fakeClient({ policy: async () => policy, stats: () => Promise.reject(new Error('stats unavailable')) }));
    await expect(bad.load()).rejects.toThrow('stats unavailable');
  });
});
