/**
 * Event hooks: the worker's typed events (src/hooks/types.ts) delivered to the hooks a user's
 * worker setup or a plugin subscribed.
 *
 *   runtime.hooks.on('request.completed', (e) => audit.write(e.workflowId, e.costUsd));
 *   runtime.hooks.subscribe({ 'provider.call.failed': alert }, 'my-plugin');
 *
 * `emit` never blocks or throws: the event is copied and its hooks are called on a later tick
 * (setImmediate), so the emitting activity's result is decided first. Each hook call has a time
 * limit (`hooks.timeout_ms`); a hook that throws, rejects or outlives it is logged (its event name,
 * source and error, never the payload) and counted in orchestrator_hook_failures_total{event,
 * source, reason}, and its late result is ignored. Hooks are called in the order events were
 * emitted and, per event, in the order they subscribed; an async hook is not awaited before the
 * next event's hooks are called. `flush()` waits for the hook calls in flight (each up to its
 * limit); `close()` stops delivery and flushes (the runtime calls it on close).
 *
 * A hook that blocks the event loop synchronously blocks the whole worker: no time limit can stop
 * JavaScript that never yields. Such a call is counted as a timeout once it returns.
 */
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { METRICS } from '../metrics/definitions';
import type { EventHook, HookContext, HookSubscriptions, OrchestratorEventName, OrchestratorEvents } from './types';

export type { EventHook, HookContext, HookSubscriptions, OrchestratorEventName, OrchestratorEvents } from './types';

/** Every event name, in the order a request emits them (then the worker-wide ones). */
export const ORCHESTRATOR_EVENT_NAMES = [
  'request.started',
  'request.routed',
  'provider.call.started',
  'provider.call.succeeded',
  'provider.call.failed',
  'provider.call.cancelled',
  'consensus.reached',
  'request.completed',
  'request.failed',
  'policy.changed',
  'improvement.applied',
] as const satisfies readonly OrchestratorEventName[];

// Compile-time: the list names every event of the contract.
type Unlisted = Exclude<OrchestratorEventName, (typeof ORCHESTRATOR_EVENT_NAMES)[number]>;
const everyEventListed: [Unlisted] extends [never] ? true : never = true;
void everyEventListed;

const EVENT_NAMES: ReadonlySet<string> = new Set(ORCHESTRATOR_EVENT_NAMES);

export function isOrchestratorEventName(name: unknown): name is OrchestratorEventName {
  return typeof name === 'string' && EVENT_NAMES.has(name);
}

/** Default time limit of one hook call. */
export const DEFAULT_HOOK_TIMEOUT_MS = 5_000;
/** The source of hooks subscribed without one (a worker's setup). */
export const DEFAULT_HOOK_SOURCE = 'setup';

export type HookFailureReason = 'error' | 'timeout';

export interface EventHooksOptions {
  /** Time limit of one hook call (default 5000 ms; config.yaml `hooks.timeout_ms`). */
  timeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
  /** Counts failures in orchestrator_hook_failures_total; absent: not counted. */
  metrics?: Pick<Metrics, 'emit'>;
}

interface Subscription {
  hook: EventHook<never>;
  source: string;
}

const SOURCE_PATTERN = /^[A-Za-z0-9@/._:-]{1,128}$/;

export class EventHooks {
  readonly timeoutMs: number;
  private readonly subscriptions = new Map<OrchestratorEventName, Subscription[]>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lastWarned = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: EventHooksOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError(`EventHooks: timeoutMs must be a positive integer of milliseconds (got ${String(timeoutMs)})`);
    this.timeoutMs = timeoutMs;
  }

  /** Subscribe one hook to one event; returns its unsubscribe. `source` names it in logs and metrics (default "setup"). */
  on<N extends OrchestratorEventName>(name: N, hook: EventHook<N>, options: { source?: string } = {}): () => void {
    if (!isOrchestratorEventName(name)) throw new TypeError(`hooks.on: unknown event "${String(name)}" (events: ${ORCHESTRATOR_EVENT_NAMES.join(', ')})`);
    if (typeof hook !== 'function') throw new TypeError(`hooks.on("${name}"): the hook must be a function (got ${typeof hook})`);
    const source = options.source ?? DEFAULT_HOOK_SOURCE;
    if (typeof source !== 'string' || !SOURCE_PATTERN.test(source)) throw new TypeError(`hooks.on("${name}"): source must be 1-128 chars of [A-Za-z0-9@/._:-] (got ${JSON.stringify(source)})`);
    const entry: Subscription = { hook, source };
    // A new array each change: a dispatch in progress keeps the list it started with.
    this.subscriptions.set(name, [...(this.subscriptions.get(name) ?? []), entry]);
    return () => {
      const list = this.subscriptions.get(name);
      if (!list) return;
      const next = list.filter((s) => s !== entry);
      if (next.length > 0) this.subscriptions.set(name, next);
      else this.subscriptions.delete(name);
    };
  }

  /**
   * Subscribe a plugin's (or a setup's) hooks, one or several per event name, under one source.
   * Every entry is checked before any is subscribed: a bad one subscribes nothing. Returns one
   * unsubscribe for all of them.
   */
  subscribe(subscriptions: HookSubscriptions, source: string): () => void {
    if (typeof subscriptions !== 'object' || subscriptions === null) throw new TypeError(`hooks.subscribe(${JSON.stringify(source)}): subscriptions must be an object of event name -> hook(s)`);
    const pairs: [OrchestratorEventName, EventHook<never>][] = [];
    for (const [name, value] of Object.entries(subscriptions) as [string, unknown][]) {
      if (value === undefined) continue;
      if (!isOrchestratorEventName(name)) throw new TypeError(`hooks of ${source}: unknown event "${name}" (events: ${ORCHESTRATOR_EVENT_NAMES.join(', ')})`);
      const hooks = Array.isArray(value) ? (value as unknown[]) : [value];
      for (const [i, hook] of hooks.entries()) {
        if (typeof hook !== 'function') throw new TypeError(`hooks of ${source}: "${name}"${Array.isArray(value) ? `[${i}]` : ''} must be a function (got ${typeof hook})`);
        pairs.push([name, hook as EventHook<never>]);
      }
    }
    if (typeof source !== 'string' || !SOURCE_PATTERN.test(source)) throw new TypeError(`hooks.subscribe: source must be 1-128 chars of [A-Za-z0-9@/._:-] (got ${JSON.stringify(source)})`);
    const offs = pairs.map(([name, hook]) => this.on(name, hook as EventHook, { source }));
    return () => offs.forEach((off) => off());
  }

  /** True when some hook listens to this event (emitters may skip building its payload). */
  has(name: OrchestratorEventName): boolean {
    return !this.closed && this.subscriptions.has(name);
  }

  /** Who listens to what: event name and source per subscription, in subscription order. */
  list(): { event: OrchestratorEventName; source: string }[] {
    return [...this.subscriptions.entries()].flatMap(([event, list]) => list.map((s) => ({ event, source: s.source })));
  }

  /** Deliver an event to its hooks on a later tick. Never throws, never waits. */
  emit<N extends OrchestratorEventName>(name: N, payload: OrchestratorEvents[N]): void {
    this.emitWith(name, () => payload);
  }

  /** Same as emit, building the payload only when some hook listens (a build that throws is logged, not thrown). */
  emitWith<N extends OrchestratorEventName>(name: N, build: () => OrchestratorEvents[N]): void {
    try {
      if (this.closed) return;
      const list = this.subscriptions.get(name);
      if (!list) return;
      let payload: OrchestratorEvents[N];
      try {
        payload = build();
      } catch (err) {
        this.warn(`${name}\u0000build`, { event: name, err: errorText(err) }, 'event not delivered: its payload could not be built; the request is unaffected');
        return;
      }
      const delivery = new Promise<void>((resolve) => {
        setImmediate(() => {
          try {
            Promise.all(list.map((s) => this.call(s, name, payload))).then(
              () => resolve(),
              () => resolve(),
            );
          } catch {
            // Never an uncaught exception on the worker's event loop.
            resolve();
          }
        });
      });
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    } catch {
      // Hooks never fail the code that emits.
    }
  }

  /** Resolves when every event emitted so far reached its hooks and each call settled or hit its time limit. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Stop delivering (later emits are dropped) and wait for the calls in flight, each up to its limit. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** One hook call: its own copy of the payload, bounded by the time limit, failures logged and counted. */
  private call(subscription: Subscription, name: OrchestratorEventName, payload: unknown): Promise<void> {
    const { source } = subscription;
    const controller = new AbortController();
    const context: HookContext = { source, signal: controller.signal };
    const started = performance.now();
    let result: unknown;
    try {
      result = (subscription.hook as EventHook)(structuredClone(payload) as OrchestratorEvents[OrchestratorEventName], name, context);
    } catch (err) {
      this.fail(name, source, 'error', err);
      return Promise.resolve();
    }
    if (!isThenable(result)) {
      const ms = performance.now() - started;
      if (ms > this.timeoutMs) this.fail(name, source, 'timeout', `blocked the event loop for ${Math.round(ms)} ms`);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (outcome: 'ok' | 'error' | 'timeout', err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (outcome !== 'ok') this.fail(name, source, outcome, err);
        if (outcome === 'timeout') controller.abort(new Error(`hook time limit of ${this.timeoutMs} ms passed`));
        resolve();
      };
      const timer = setTimeout(() => finish('timeout', `no answer within ${this.timeoutMs} ms`), Math.max(0, this.timeoutMs - (performance.now() - started)));
      Promise.resolve(result).then(
        () => finish('ok'),
        (err: unknown) => finish('error', err),
      );
    });
  }

  private fail(event: OrchestratorEventName, source: string, reason: HookFailureReason, err: unknown): void {
    try {
      this.options.metrics?.emit([{ name: METRICS.hookFailures.name, value: 1, tags: { event, source, reason } }]);
      this.warn(`${event}\u0000${source}\u0000${reason}`, { event, source, reason, err: errorText(err) }, 'event hook failed; the request is unaffected');
    } catch {
      // never throws
    }
  }

  /** One warning per key a minute: a broken hook does not flood the log. */
  private warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if ((this.lastWarned.get(key) ?? 0) + 60_000 > now) return;
    this.lastWarned.set(key, now);
    if (this.lastWarned.size > 1000) this.lastWarned.delete(this.lastWarned.keys().next().value!);
    this.options.logger?.warn(fields, message);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** An error's name and first line, cut short: what a hook threw, never the event it was given. */
function errorText(err: unknown): string {
  if (typeof err === 'string') return err.slice(0, 300);
  if (err instanceof Error) return `${err.name}: ${(err.message.split('\n')[0] ?? '').slice(0, 300)}`;
  return 'non-Error thrown';
}
