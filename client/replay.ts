/**
 * Replay workflow histories against the current workflow code: the check that a change to workflow
 * code is compatible with runs that already happened (see test/replay/ for the suite's own use).
 *
 *   const report = await replayHistories({ sources: ['history.json', 'llm-request-42'], client });
 *   for (const r of report.results) console.log(r.source, r.ok ? 'OK' : r.error?.message);
 *
 * A source is a history file (`temporal workflow show --workflow-id <id> --output json`, the Web
 * UI's JSON download, or a GetWorkflowExecutionHistory response), or a workflow id whose history
 * is fetched from the server (`client` needed). On nondeterminism the result names the workflow
 * task whose commands differ from the history and the event the error names.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Client } from '@temporalio/client';
import type { WorkflowBundleOption } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { selectWorkflowSource } from '../src/temporal/workflow-bundle';
import type { DataConverter } from '@temporalio/common';
import { loadEnv } from '../src/config/env';
import { dataConverterFor } from '../src/temporal/data-converter';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface ReplayHistoriesOptions {
  /** History JSON files and/or workflow ids (an id's latest run is fetched from the server). */
  sources: readonly string[];
  /** Needed for workflow ids. */
  client?: Client;
  /**
   * The workflow code to replay against. Default: the prebuilt bundle (`dist/workflow-bundle.js`)
   * when it was built from the sources on disk, else the sources (`workflows/index.ts`), bundled once.
   */
  workflowBundle?: WorkflowBundleOption;
  workflowsPath?: string;
  /** Decodes the histories' payloads. Default: the environment's (PAYLOAD_KEYS, as the worker that wrote them). */
  dataConverter?: DataConverter;
}

export interface ReplayDivergence {
  /** The event the error points at: the one it names (an activity type, a timer id), else the first command event of the diverging workflow task. */
  eventId: number | null;
  eventType: string | null;
  /** The workflow task whose commands the code no longer produces. */
  workflowTask: { startedEventId: number; completedEventId: number; commandEventIds: number[] } | null;
}

export interface ReplayHistoryResult {
  source: string;
  from: 'file' | 'server';
  workflowId: string;
  runId: string | null;
  workflowType: string | null;
  events: number;
  ok: boolean;
  error: null | ({
    /** nondeterminism: the code takes another path than the history; replay: the replay itself failed (e.g. unknown workflow type); load: the history could not be read or fetched. */
    kind: 'nondeterminism' | 'replay' | 'load';
    /** The core's own message when there is one (e.g. `[TMPRL1100] Nondeterminism error: ...`). */
    message: string;
    /** The SDK's full error message. */
    detail: string;
  } & Partial<ReplayDivergence>);
}

export interface ReplayReport {
  ok: boolean;
  /** Which workflow code was replayed against (prebuilt bundle or sources, and why). */
  workflowCode: string;
  results: ReplayHistoryResult[];
}

interface LoadedHistory {
  source: string;
  from: 'file' | 'server';
  workflowId: string;
  runId: string | null;
  history: History;
}

/** Read a history file in any of the JSON shapes Temporal tools write. Throws with the reason. */
export async function readHistoryFile(path: string): Promise<History> {
  const { historyFromJSON } = await import('@temporalio/common/lib/proto-utils.js');
  const text = readFileSync(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // `--output jsonl`: one event per line.
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    try {
      parsed = { events: lines.map((l) => JSON.parse(l) as unknown) };
    } catch {
      throw new Error(`not JSON: ${(err as Error).message}`);
    }
  }
  const events = eventsOf(parsed);
  if (!events) throw new Error('no history events: expected {"events": [...]} (temporal workflow show --output json), {"history": {"events": [...]}} or an array of events');
  const history = historyFromJSON({ events });
  checkHistory(history);
  return history;
}

function eventsOf(parsed: unknown): unknown[] | null {
  if (Array.isArray(parsed)) return parsed as unknown[];
  if (parsed && typeof parsed === 'object') {
    const o = parsed as Record<string, unknown>;
    if (Array.isArray(o['events'])) return o['events'] as unknown[];
    const inner = o['history'];
    if (inner && typeof inner === 'object' && Array.isArray((inner as Record<string, unknown>)['events'])) return (inner as Record<string, unknown>)['events'] as unknown[];
  }
  return null;
}

function checkHistory(history: History): void {
  const first = history.events?.[0];
  if (!first) throw new Error('the history has no events');
  if (!first.workflowExecutionStartedEventAttributes) throw new Error(`the first event is ${eventTypeName(first) ?? 'unknown'}, not WorkflowExecutionStarted: not a complete history`);
}

/** An event id or similar int64 (a protobufjs Long, a number or a decimal string) as a number. */
function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return Number((v as { toString(): string }).toString());
}

function attributesOf(e: HistoryEvent): { name: string; value: Record<string, unknown> } | null {
  const record = e as Record<string, unknown>;
  const name = Object.keys(record).find((k) => k.endsWith('EventAttributes') && record[k] !== null && record[k] !== undefined);
  return name ? { name, value: record[name] as Record<string, unknown> } : null;
}

function eventTypeName(e: HistoryEvent): string | null {
  const a = attributesOf(e);
  if (!a) return null;
  const n = a.name.replace(/EventAttributes$/, '');
  return n.charAt(0).toUpperCase() + n.slice(1);
}

/** The workflow tasks that completed, each with the events its commands produced. */
function completedWorkflowTasks(events: readonly HistoryEvent[]): { startedIndex: number; startedEventId: number; completedEventId: number; commandEventIds: number[] }[] {
  const tasks: { startedIndex: number; startedEventId: number; completedEventId: number; commandEventIds: number[] }[] = [];
  let lastStarted: { index: number; eventId: number } | null = null;
  events.forEach((e, index) => {
    if (e.workflowTaskStartedEventAttributes) lastStarted = { index, eventId: num(e.eventId) };
    const completed = e.workflowTaskCompletedEventAttributes;
    if (completed && lastStarted) {
      const completedEventId = num(e.eventId);
      const commandEventIds = events
        .filter((c) => num(attributesOf(c)?.value['workflowTaskCompletedEventId']) === completedEventId)
        .map((c) => num(c.eventId));
      tasks.push({ startedIndex: lastStarted.index, startedEventId: lastStarted.eventId, completedEventId, commandEventIds });
    }
  });
  return tasks;
}

/** The core's message inside the SDK's wrapper (`... Failure { message: "[TMPRL1100] ..." ...`). */
function coreMessage(detail: string): string {
  const m = /message: "((?:[^"\\]|\\.)*)"/.exec(detail);
  return m?.[1] ? m[1].replace(/\\(.)/g, '$1') : detail;
}

/** A data converter for replaying: its payload codecs, without a failure converter that encodes messages. */
export function replayConverter(converter: DataConverter): DataConverter {
  return converter.payloadCodecs ? { payloadCodecs: converter.payloadCodecs } : {};
}

export async function replayHistories(options: ReplayHistoriesOptions): Promise<ReplayReport> {
  const { Worker, bundleWorkflowCode } = await import('@temporalio/worker');
  const loaded: (LoadedHistory | ReplayHistoryResult)[] = [];
  for (const source of options.sources) loaded.push(await load(source, options.client));

  let workflowCode: string;
  let bundle: WorkflowBundleOption;
  if (options.workflowBundle) {
    bundle = options.workflowBundle;
    workflowCode = 'the given workflow bundle';
  } else {
    const selected = options.workflowsPath ? { kind: 'sources' as const, workflowsPath: options.workflowsPath, reason: `sources at ${options.workflowsPath}` } : selectWorkflowSource();
    workflowCode = selected.reason;
    bundle = selected.kind === 'bundle' ? { codePath: selected.codePath } : await bundleWorkflowCode({ workflowsPath: selected.workflowsPath, logger: silentLogger });
  }

  // The codecs decode the history; failures stay plain: a replay sends nothing to the server, and
  // its errors (a missing key, a nondeterminism) must read as themselves, not as "Encoded failure".
  const dataConverter = replayConverter(options.dataConverter ?? dataConverterFor(loadEnv()));
  const replayOne = async (workflowId: string, history: History): Promise<Error | null> => {
    for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter }, [{ workflowId, history }])) return r.error ?? null;
    return null;
  };

  const results: ReplayHistoryResult[] = [];
  for (const item of loaded) {
    if (!('history' in item)) {
      results.push(item);
      continue;
    }
    const events = item.history.events ?? [];
    const base = {
      source: item.source,
      from: item.from,
      workflowId: item.workflowId,
      runId: item.runId,
      workflowType: events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? null,
      events: events.length,
    };
    const error = await replayOne(item.workflowId, item.history).catch((e: unknown) => e as Error);
    if (!error) {
      results.push({ ...base, ok: true, error: null });
      continue;
    }
    const nondeterminism = error.name === 'DeterminismViolationError';
    const message = coreMessage(error.message);
    results.push({
      ...base,
      ok: false,
      error: { kind: nondeterminism ? 'nondeterminism' : 'replay', message, detail: error.message, ...(nondeterminism && (await locate(item, message, replayOne))) },
    });
  }
  return { ok: results.every((r) => r.ok), workflowCode, results };
}

/**
 * Which workflow task diverged: replay prefixes of the history that end at a later workflow task's
 * start (the replayer checks every completed task before it, and runs the last one without a
 * comparison); the first failing prefix names the task. Binary search over the completed tasks.
 */
async function locate(item: LoadedHistory, message: string, replayOne: (id: string, h: History) => Promise<Error | null>): Promise<ReplayDivergence> {
  const events = item.history.events ?? [];
  const tasks = completedWorkflowTasks(events);
  if (tasks.length === 0) return { eventId: null, eventType: null, workflowTask: null };
  // prefixFails(j): the history cut before task j+1 starts (tasks 0..j checked) fails; true for the last task (the full history).
  const prefixFails = async (j: number): Promise<boolean> => {
    const next = tasks[j + 1];
    if (!next) return true;
    const prefix = { events: events.slice(0, next.startedIndex + 1) };
    return (await replayOne(`${item.workflowId}#task-${j}`, prefix).catch((e: unknown) => e as Error)) !== null;
  };
  let lo = 0;
  let hi = tasks.length - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await prefixFails(mid)) hi = mid;
    else lo = mid + 1;
  }
  const task = tasks[lo]!;
  // The event the message names, among the task's command events; else its first command event. Core
  // names the history's side first ("scheduled event 'x' does not match ... command 'y'"), so the
  // first quoted name that some command event carries wins.
  const named = [...message.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const byId = new Map(events.map((e) => [num(e.eventId), e]));
  const carries = (id: number, name: string) => JSON.stringify(attributesOf(byId.get(id)!)?.value ?? {}).includes(JSON.stringify(name));
  let hit: number | undefined;
  for (const name of named) {
    hit = task.commandEventIds.find((id) => carries(id, name));
    if (hit !== undefined) break;
  }
  const eventId = hit ?? task.commandEventIds[0] ?? task.completedEventId;
  const event = byId.get(eventId);
  return { eventId, eventType: event ? eventTypeName(event) : null, workflowTask: { startedEventId: task.startedEventId, completedEventId: task.completedEventId, commandEventIds: task.commandEventIds } };
}

async function load(source: string, client: Client | undefined): Promise<LoadedHistory | ReplayHistoryResult> {
  const failed = (from: 'file' | 'server', workflowId: string, message: string): ReplayHistoryResult => ({
    source,
    from,
    workflowId,
    runId: null,
    workflowType: null,
    events: 0,
    ok: false,
    error: { kind: 'load', message, detail: message },
  });
  const isFile = existsSync(source) && statSync(source).isFile();
  if (isFile || source.endsWith('.json')) {
    if (!isFile) return failed('file', basename(source), `no such file: ${source}`);
    try {
      const history = await readHistoryFile(source);
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      return { source, from: 'file', workflowId: basename(source).replace(/\.jsonl?$/, ''), runId: started?.originalExecutionRunId ?? null, history };
    } catch (err) {
      return failed('file', basename(source), `${source}: ${(err as Error).message}`);
    }
  }
  const workflowId = source;
  if (!client) return failed('server', workflowId, `"${source}" is not a file, and no Temporal client was given to fetch it as a workflow id`);
  try {
    const handle = client.workflow.getHandle(workflowId);
    const history = await handle.fetchHistory();
    checkHistory(history);
    return { source, from: 'server', workflowId, runId: history.events?.[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId ?? null, history };
  } catch (err) {
    return failed('server', workflowId, `workflow ${source}: ${(err as Error).message}`);
  }
}

const silentLogger = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} };

/** Human-readable lines for a report (the CLI's output without --json). */
export function formatReplayReport(report: ReplayReport, out: (line: string) => void): void {
  for (const r of report.results) {
    const what = `${r.source}${r.from === 'server' ? ' (server)' : ''}${r.workflowType ? ` [${r.workflowType}, ${r.events} events]` : ''}`;
    if (r.ok) {
      out(`OK    ${what}`);
      continue;
    }
    const e = r.error!;
    if (e.kind === 'nondeterminism') {
      const at = e.eventId != null ? ` at event ${e.eventId}${e.eventType ? ` (${e.eventType})` : ''}` : '';
      const task = e.workflowTask ? `, in the workflow task completed at event ${e.workflowTask.completedEventId}${e.workflowTask.commandEventIds.length > 0 ? ` (its commands: events ${e.workflowTask.commandEventIds.join(', ')})` : ''}` : '';
      out(`FAIL  ${what}: nondeterminism${at}${task}: ${e.message}`);
    } else {
      out(`FAIL  ${what}: ${e.kind === 'load' ? 'cannot load' : 'replay failed'}: ${e.message}`);
    }
  }
  const failed = report.results.filter((r) => !r.ok).length;
  out(`${report.results.length - failed} of ${report.results.length} replayed OK (workflow code: ${report.workflowCode})`);
}
