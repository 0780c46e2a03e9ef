/**
 * The streaming side channel: provider-call activities publish the tokens of a request as they
 * arrive, keyed by workflow id; the gateway subscribes and forwards them as server-sent events.
 * The durable record stays the workflow's result: nothing here is persisted, and a subscriber that
 * misses the stream still gets the whole answer from the workflow.
 *
 * `createLocalStreamBus` is in-process (the gateway with its co-located worker). Each workflow id
 * keeps its last `maxEventsPerWorkflow` events for `retainMs` after its last event, so a
 * subscriber that attaches a little after the first delta still sees every event from the start.
 */

/** One event of one provider call (`callIndex` is the workflow's index of the call). */
export type StreamEvent =
  | { type: 'delta'; callIndex: number; provider: string; model: string; text: string }
  | { type: 'error'; callIndex: number; errorType: string; message: string }
  | { type: 'done'; callIndex: number; finishReason: string | null };

export interface StreamBus {
  publish(workflowId: string, e: StreamEvent): void;
  /** Replays the buffered events of the workflow id, then delivers new ones. Returns the unsubscribe function. */
  subscribe(workflowId: string, fn: (e: StreamEvent) => void): () => void;
}

export interface LocalStreamBusOptions {
  /** Events kept per workflow id for late subscribers (the oldest are dropped beyond it). Default 10,000. */
  maxEventsPerWorkflow?: number;
  /** How long a workflow id's events are kept after its last event. Default 60 s. */
  retainMs?: number;
  /** Workflow ids buffered at once (the least recently published are dropped beyond it). Default 10,000. */
  maxWorkflows?: number;
}

export interface LocalStreamBus extends StreamBus {
  /** Workflow ids with buffered events or subscribers (for tests and metrics). */
  size(): number;
  /** Drop every buffer and subscriber. */
  clear(): void;
}

interface Channel {
  events: StreamEvent[];
  listeners: Set<(e: StreamEvent) => void>;
  expiry: NodeJS.Timeout | null;
}

export function createLocalStreamBus(options: LocalStreamBusOptions = {}): LocalStreamBus {
  const maxEvents = positive(options.maxEventsPerWorkflow ?? 10_000, 'maxEventsPerWorkflow');
  const retainMs = positive(options.retainMs ?? 60_000, 'retainMs');
  const maxWorkflows = positive(options.maxWorkflows ?? 10_000, 'maxWorkflows');
  const channels = new Map<string, Channel>();

  const channel = (workflowId: string): Channel => {
    let c = channels.get(workflowId);
    if (!c) {
      c = { events: [], listeners: new Set(), expiry: null };
      channels.set(workflowId, c);
      if (channels.size > maxWorkflows) evictOldest();
    }
    return c;
  };

  const drop = (workflowId: string): void => {
    const c = channels.get(workflowId);
    if (c?.expiry) clearTimeout(c.expiry);
    channels.delete(workflowId);
  };

  /** The buffer expires `retainMs` after the last event; a channel with subscribers lives on without its buffer. */
  const arm = (workflowId: string, c: Channel): void => {
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = setTimeout(() => {
      c.expiry = null;
      c.events = [];
      if (c.listeners.size === 0 && channels.get(workflowId) === c) channels.delete(workflowId);
    }, retainMs);
    c.expiry.unref();
  };

  function evictOldest(): void {
    for (const [id, c] of channels) {
      if (c.listeners.size === 0) return drop(id);
    }
  }

  return {
    publish(workflowId, e) {
      const c = channel(workflowId);
      // Least recently published last, so eviction takes the stalest.
      channels.delete(workflowId);
      channels.set(workflowId, c);
      c.events.push(e);
      if (c.events.length > maxEvents) c.events.splice(0, c.events.length - maxEvents);
      arm(workflowId, c);
      for (const fn of [...c.listeners]) {
        try {
          fn(e);
        } catch {
          // A failing subscriber never breaks the publisher (the provider call) or other subscribers.
        }
      }
    },
    subscribe(workflowId, fn) {
      const c = channel(workflowId);
      c.listeners.add(fn);
      for (const e of [...c.events]) {
        if (!c.listeners.has(fn)) break; // unsubscribed while replaying
        try {
          fn(e);
        } catch {
          // as in publish
        }
      }
      return () => {
        c.listeners.delete(fn);
        if (c.listeners.size === 0 && c.events.length === 0 && channels.get(workflowId) === c) drop(workflowId);
      };
    },
    size: () => channels.size,
    clear() {
      for (const id of [...channels.keys()]) drop(id);
    },
  };
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`createLocalStreamBus: ${name} must be a positive number (got ${value})`);
  return value;
}
