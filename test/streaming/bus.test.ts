import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalStreamBus, type StreamEvent } from '../../src/streaming/bus';

const delta = (callIndex: number, text: string): StreamEvent => ({ type: 'delta', callIndex, provider: 'openai', model: 'gpt-4o-mini', text });

describe('createLocalStreamBus', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers events to subscribers of the workflow id only, in order', () => {
    const bus = createLocalStreamBus();
    const a: StreamEvent[] = [];
    const b: StreamEvent[] = [];
    bus.subscribe('wf-a', (e) => a.push(e));
    bus.subscribe('wf-b', (e) => b.push(e));
    bus.publish('wf-a', delta(0, 'Hel'));
    bus.publish('wf-a', delta(0, 'lo'));
    bus.publish('wf-b', { type: 'done', callIndex: 0, finishReason: 'stop' });
    expect(a.map((e) => (e.type === 'delta' ? e.text : e.type))).toEqual(['Hel', 'lo']);
    expect(b).toEqual([{ type: 'done', callIndex: 0, finishReason: 'stop' }]);
  });

  it('a subscriber attaching after the first deltas gets the buffered ones first, then live ones', () => {
    const bus = createLocalStreamBus();
    bus.publish('wf', delta(0, 'one '));
    bus.publish('wf', delta(0, 'two '));
    const seen: string[] = [];
    bus.subscribe('wf', (e) => seen.push(e.type === 'delta' ? e.text : e.type));
    bus.publish('wf', delta(0, 'three'));
    bus.publish('wf', { type: 'done', callIndex: 0, finishReason: 'stop' });
    expect(seen).toEqual(['one ', 'two ', 'three', 'done']);
  });

  it('keeps only the last N events per workflow id', () => {
    const bus = createLocalStreamBus({ maxEventsPerWorkflow: 3 });
    for (let i = 0; i < 5; i++) bus.publish('wf', delta(0, String(i)));
    const seen: string[] = [];
    bus.subscribe('wf', (e) => seen.push(e.type === 'delta' ? e.text : e.type));
    expect(seen).toEqual(['2', '3', '4']);
  });

  it('forgets a workflow id retainMs after its last event', () => {
    vi.useFakeTimers();
    const bus = createLocalStreamBus({ retainMs: 60_000 });
    bus.publish('wf', delta(0, 'a'));
    vi.advanceTimersByTime(59_000);
    bus.publish('wf', delta(0, 'b')); // extends the retention
    vi.advanceTimersByTime(59_000);
    const early: string[] = [];
    bus.subscribe('wf', (e) => early.push(e.type))();
    expect(early).toEqual(['delta', 'delta']);
    vi.advanceTimersByTime(2_000);
    expect(bus.size()).toBe(0);
    const late: StreamEvent[] = [];
    bus.subscribe('wf', (e) => late.push(e));
    expect(late).toEqual([]);
  });

  it('unsubscribe stops delivery and leaves nothing behind once the buffer expired', () => {
    vi.useFakeTimers();
    const bus = createLocalStreamBus({ retainMs: 1_000 });
    const seen: StreamEvent[] = [];
    const off = bus.subscribe('wf', (e) => seen.push(e));
    bus.publish('wf', delta(0, 'a'));
    off();
    bus.publish('wf', delta(0, 'b'));
    expect(seen).toHaveLength(1);
    vi.advanceTimersByTime(1_001);
    expect(bus.size()).toBe(0);
    // A subscription that never saw an event is removed at once.
    bus.subscribe('other', () => undefined)();
    expect(bus.size()).toBe(0);
  });

  it('a subscriber that throws breaks neither the publisher nor other subscribers', () => {
    const bus = createLocalStreamBus();
    const seen: StreamEvent[] = [];
    bus.subscribe('wf', () => {
      throw new Error('boom');
    });
    bus.subscribe('wf', (e) => seen.push(e));
    expect(() => bus.publish('wf', delta(0, 'x'))).not.toThrow();
    expect(seen).toHaveLength(1);
  });

  it('bounds the number of buffered workflow ids, dropping the stalest without subscribers', () => {
    const bus = createLocalStreamBus({ maxWorkflows: 2 });
    bus.publish('wf-1', delta(0, '1'));
    bus.publish('wf-2', delta(0, '2'));
    bus.publish('wf-3', delta(0, '3'));
    expect(bus.size()).toBe(2);
    const seen: StreamEvent[] = [];
    bus.subscribe('wf-1', (e) => seen.push(e));
    expect(seen).toEqual([]);
  });

  it('refuses nonsensical bounds', () => {
    expect(() => createLocalStreamBus({ retainMs: 0 })).toThrow(/retainMs must be a positive number/);
  });
});
