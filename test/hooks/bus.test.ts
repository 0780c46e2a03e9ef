/**
 * The event bus (src/hooks): delivery order, unsubscribe, copies, and what a broken hook costs —
 * a throwing or hanging hook is logged and counted, and neither emit nor the other hooks wait for
 * it beyond the time limit; flush/close wait for calls in flight, each up to its limit.
 */
import { describe, expect, it } from 'vitest';
import { EventHooks, ORCHESTRATOR_EVENT_NAMES, type OrchestratorEvents } from '../../src/hooks';
import { createMetrics } from '../../src/metrics';

const started = (workflowId: string): OrchestratorEvents['request.started'] => ({ workflowId, requestId: workflowId, taskType: 'general', userId: 'u1', attempt: 1, at: Date.now() });

function captureLogger() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  return { warnings, logger: { warn: (fields: object, message?: string) => warnings.push({ fields: fields as Record<string, unknown>, message: message ?? '' }) } };
}

async function failureCount(metrics: ReturnType<typeof createMetrics>, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'orchestrator_hook_failures_total');
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

describe('EventHooks', () => {
  it('delivers events in emission order, hooks in subscription order, after emit has returned', async () => {
    const hooks = new EventHooks();
    const seen: string[] = [];
    hooks.on('request.started', (e) => void seen.push(`a:${e.workflowId}`));
    hooks.on('request.started', (e) => void seen.push(`b:${e.workflowId}`));
    hooks.on('request.completed', (e) => void seen.push(`c:${e.workflowId}`));
    hooks.emit('request.started', started('w1'));
    hooks.emit('request.completed', { ...started('w1'), latencyMs: 5, costUsd: 0, providers: ['openai:gpt'], confidence: null, cached: false, repeated: false });
    hooks.emit('request.started', started('w2'));
    // Nothing ran synchronously inside emit.
    expect(seen).toEqual([]);
    await hooks.flush();
    expect(seen).toEqual(['a:w1', 'b:w1', 'c:w1', 'a:w2', 'b:w2']);
  });

  it('unsubscribe stops delivery; subscribe takes several hooks per event under one source and undoes them together', async () => {
    const hooks = new EventHooks();
    const seen: string[] = [];
    const off = hooks.on('request.started', () => void seen.push('single'));
    const offAll = hooks.subscribe({ 'request.started': [() => void seen.push('p1'), () => void seen.push('p2')], 'request.failed': () => void seen.push('pf') }, 'my-plugin');
    expect(hooks.list()).toEqual([
      { event: 'request.started', source: 'setup' },
      { event: 'request.started', source: 'my-plugin' },
      { event: 'request.started', source: 'my-plugin' },
      { event: 'request.failed', source: 'my-plugin' },
    ]);
    hooks.emit('request.started', started('w1'));
    await hooks.flush();
    expect(seen).toEqual(['single', 'p1', 'p2']);
    off();
    hooks.emit('request.started', started('w2'));
    await hooks.flush();
    expect(seen).toEqual(['single', 'p1', 'p2', 'p1', 'p2']);
    offAll();
    hooks.emit('request.started', started('w3'));
    hooks.emit('request.failed', { ...started('w3'), errorType: 'InvalidRequest', latencyMs: null });
    await hooks.flush();
    expect(seen).toHaveLength(5);
    expect(hooks.list()).toEqual([]);
  });

  it('each hook gets its own copy of the payload', async () => {
    const hooks = new EventHooks();
    const payload = started('w1');
    let second: unknown = null;
    hooks.on('request.started', (e) => {
      (e as { workflowId: string }).workflowId = 'changed';
    });
    hooks.on('request.started', (e) => {
      second = e.workflowId;
    });
    hooks.emit('request.started', payload);
    await hooks.flush();
    expect(second).toBe('w1');
    expect(payload.workflowId).toBe('w1');
  });

  it('refuses bad subscriptions with an error naming what is wrong, and subscribes nothing of a bad set', () => {
    const hooks = new EventHooks();
    expect(() => hooks.on('request.finished' as never, () => undefined)).toThrow(/unknown event "request.finished".*request.started/);
    expect(() => hooks.on('request.started', 'nope' as never)).toThrow(/hooks.on\("request.started"\): the hook must be a function/);
    expect(() => hooks.on('request.started', () => undefined, { source: 'has space' })).toThrow(/source must be/);
    expect(() => hooks.subscribe({ 'request.started': () => undefined, 'provider.call.failed': [() => undefined, 42 as never] }, 'bad-plugin')).toThrow(/hooks of bad-plugin: "provider.call.failed"\[1\] must be a function/);
    expect(hooks.list()).toEqual([]);
    expect(() => new EventHooks({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive integer/);
    expect(ORCHESTRATOR_EVENT_NAMES).toHaveLength(11);
  });

  it('a throwing hook and a hanging hook are logged and counted; the others get the event and emit never waits', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const { warnings, logger } = captureLogger();
    const hooks = new EventHooks({ timeoutMs: 200, logger, metrics });
    let aborted = false;
    const seen: string[] = [];
    hooks.on('request.started', () => {
      throw new Error('boom for w1');
    }, { source: 'thrower' });
    hooks.on('request.started', (_e, _n, { signal }) => {
      // Never settles: only the time limit ends this call.
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise<void>(() => undefined);
    }, { source: 'hanger' });
    hooks.on('request.started', async () => Promise.reject(new TypeError('rejected')), { source: 'rejecter' });
    hooks.on('request.started', (e) => void seen.push(e.workflowId), { source: 'healthy' });

    const t0 = performance.now();
    hooks.emit('request.started', started('w1'));
    // emit returns at once, whatever the hooks do.
    expect(performance.now() - t0).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 20));
    // The healthy hook ran without waiting for the hanging one.
    expect(seen).toEqual(['w1']);
    await hooks.flush();
    const flushedAfter = performance.now() - t0;
    // flush waited for the hanging hook up to its limit, not longer (generous bound for a busy machine).
    expect(flushedAfter).toBeGreaterThanOrEqual(190);
    expect(flushedAfter).toBeLessThan(5000);
    expect(aborted).toBe(true);

    expect(await failureCount(metrics, { event: 'request.started', source: 'thrower', reason: 'error' })).toBe(1);
    expect(await failureCount(metrics, { event: 'request.started', source: 'rejecter', reason: 'error' })).toBe(1);
    expect(await failureCount(metrics, { event: 'request.started', source: 'hanger', reason: 'timeout' })).toBe(1);
    expect(await failureCount(metrics, { source: 'healthy' })).toBe(0);
    const bySource = Object.fromEntries(warnings.map((w) => [String(w.fields['source']), w] as const));
    expect(bySource['thrower']?.fields).toMatchObject({ event: 'request.started', reason: 'error', err: 'Error: boom for w1' });
    expect(bySource['hanger']?.fields).toMatchObject({ event: 'request.started', reason: 'timeout' });
    expect(bySource['thrower']?.message).toMatch(/the request is unaffected/);
    // The log names the event, never its payload.
    for (const w of warnings) expect(JSON.stringify(w.fields)).not.toContain('u1');
  });

  it('a broken hook is warned about once a minute, counted every time', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const { warnings, logger } = captureLogger();
    const hooks = new EventHooks({ logger, metrics });
    hooks.on('request.started', () => {
      throw new Error('again');
    });
    for (let i = 0; i < 5; i++) hooks.emit('request.started', started(`w${i}`));
    await hooks.flush();
    expect(warnings).toHaveLength(1);
    expect(await failureCount(metrics, { source: 'setup', reason: 'error' })).toBe(5);
  });

  it('a hook that blocks the event loop past the limit is counted as a timeout once it returns', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const hooks = new EventHooks({ timeoutMs: 30, metrics });
    hooks.on('request.started', () => {
      const until = performance.now() + 60;
      while (performance.now() < until) {
        // busy
      }
    });
    hooks.emit('request.started', started('w1'));
    await hooks.flush();
    expect(await failureCount(metrics, { reason: 'timeout' })).toBe(1);
  });

  it('close awaits hook calls in flight, then drops later events', async () => {
    const hooks = new EventHooks({ timeoutMs: 5000 });
    const done: string[] = [];
    hooks.on('request.started', async (e) => {
      await new Promise((r) => setTimeout(r, 100));
      done.push(e.workflowId);
    });
    hooks.emit('request.started', started('w1'));
    await hooks.close();
    expect(done).toEqual(['w1']);
    hooks.emit('request.started', started('w2'));
    expect(hooks.has('request.started')).toBe(false);
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toEqual(['w1']);
  });

  it('a payload that cannot be built is logged, not thrown to the emitter; none is built without a listener', async () => {
    const { warnings, logger } = captureLogger();
    const hooks = new EventHooks({ logger });
    let built = 0;
    hooks.emitWith('request.started', () => {
      built += 1;
      return started('w0');
    });
    expect(built).toBe(0);
    hooks.on('request.started', () => undefined);
    expect(() =>
      hooks.emitWith('request.started', () => {
        throw new Error('no context');
      }),
    ).not.toThrow();
    await hooks.flush();
    expect(warnings[0]?.message).toMatch(/payload could not be built/);
  });
});
