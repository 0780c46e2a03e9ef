/**
 * Local provider emulator: enough of the OpenAI, Anthropic and Gemini HTTP APIs for the real SDKs
 * to talk to it, with deterministic answers (./answers.ts), per-model latency and injectable
 * faults. node:http only; binds to loopback only. Answers are marked `[emulator:<model>]`.
 *
 * Endpoints
 *   POST /v1/chat/completions                   OpenAI Chat Completions (request id: `x-request-id`)
 *   POST /v1/messages                           Anthropic Messages (request id: `request-id`)
 *   POST /v1beta/models/{model}:generateContent Gemini (id: `responseId` in the body, `x-request-id`)
 *   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   Gemini, streamed
 * Streaming: OpenAI and Anthropic stream when the body says `stream: true` (OpenAI:
 * `chat.completion.chunk` events ending with `data: [DONE]`, the usage chunk when
 * `stream_options.include_usage`; Anthropic: message_start, content_block_start/_delta/_stop,
 * message_delta with the usage, message_stop); Gemini on its streaming route (one
 * GenerateContentResponse per event, the finish reason and usage on the last). The answer is
 * sent a word at a time. Faults apply as to other calls (an HTTP status fault answers before any
 * chunk; `malformed` sends a broken chunk halfway).
 *   GET  /v1/models                             OpenAI list, or Anthropic's when `anthropic-version` is sent
 *   GET  /v1beta/models                         Gemini list
 *   GET  / and /health                       liveness
 * Every call needs some credential (Bearer / x-api-key / x-goog-api-key); any value is accepted.
 * Usage figures are approximate: ceil(characters / 4) tokens.
 *
 * Faults
 *   Configured per model (`emulator.models.<model>.faults`): the first fault that applies wins. A
 *   fault applies when the (model, prompt) call counter is below `times` (if set) and a stable hash
 *   of (model, prompt, counter) falls below `rate`. So `{ kind: 500, times: 1 }` fails the first
 *   attempt of every prompt and lets the retry through.
 *
 * Prompt directives (checked before configured faults, removed before answering)
 *   [[emulate:<item>,<item>...]]          applies to every model
 *   [[emulate@<model>:<item>,...]]        applies only to that model
 *   items:
 *     <status>|hang|malformed[x<N>][:retry=<s>][:rate=<r>]
 *         HTTP status (429, 500, 503, 529, 401, 400, ...) with a body in the provider's error format,
 *         `hang` (no answer until the client gives up), `malformed` (200 with invalid JSON).
 *         xN: only the first N calls per model+prompt; retry: Retry-After seconds (Gemini: RetryInfo);
 *         rate: share of calls in [0,1] (default 1).
 *     latency=<ms>                        answer after this delay
 *     midstream=<K>[x<N>]                 streaming only: fail after K chunks with an in-band error
 *                                         event of the provider's format (xN: only the first N calls)
 *     chunkms=<ms>                        streaming only: wait this long between chunks (default 0)
 *     answer=correct|wrong                force the answer's correctness
 *   e.g. `[[emulate:500x1]]` fails once then succeeds; `[[emulate:429x2:retry=1]]`;
 *   `[[emulate@gpt-4o-mini:hang]]`; `[[emulate:latency=300,answer=wrong]]`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { EmulatedModelSchema, type Config, type Fault } from '../config/schema';
import { approxTokens, emulatedAnswer, unitHash } from './answers';

export type EmulatedModel = z.infer<typeof EmulatedModelSchema>;
export type EmulatedModelInput = z.input<typeof EmulatedModelSchema>;
type Dialect = 'openai' | 'anthropic' | 'google';

export interface EmulatorOptions {
  /** Loopback only (127.0.0.0/8, ::1, localhost). Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  settings: Config['emulator'];
  /**
   * Request log: called once per generation call when its response ends (answered, faulted, hung
   * until the client left). Prompts are the caller's own (the emulator never logs them itself).
   */
  onCall?: (call: EmulatorCallRecord) => void;
}

/** One generation call as the emulator saw it (EmulatorOptions.onCall). */
export interface EmulatorCallRecord {
  model: string;
  /** The last user message as received (directives included). */
  prompt: string;
  /** 0-based count of earlier calls with the same (model, prompt). */
  attempt: number;
  /** Epoch ms: request parsed, and response ended or connection closed. */
  startedAt: number;
  endedAt: number;
  /** The injected fault (HTTP status, `hang`, `malformed`), or null. */
  fault: number | 'hang' | 'malformed' | null;
  /** HTTP status sent (null: the client left before any was sent, e.g. a hang). */
  status: number | null;
  /** The whole response was written (false: the client went away first). */
  completed: boolean;
  /** The ids a connector may store as providerRequestId: the request-id header and the body's id. */
  ids: string[];
}

export interface ModelStats {
  calls: number;
  faults: number;
}

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:8390 (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Replace one model's settings (latency, accuracy, faults). */
  setModelSettings(model: string, settings: EmulatedModelInput): void;
  /** Drop every configured fault and forget the per-(model, prompt) call counters. */
  resetFaults(): void;
  /** Generation calls per model so far. */
  stats(): Record<string, ModelStats>;
}

/** Per-(model, prompt) call counters kept; the least recently used are forgotten beyond this. */
const MAX_COUNTERS = 100_000;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new ConfigError(`the provider emulator binds to loopback only; refusing host "${host}"`, [
      { path: 'emulator.host', message: 'must be a loopback address (127.0.0.1, ::1 or localhost)' },
    ]);
  }
  const models = new Map<string, EmulatedModel>(Object.entries(options.settings.models));
  const counters = new Map<string, number>();
  const stats = new Map<string, ModelStats>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const closed = closeSignal(res);
    const { pathname } = new URL(req.url ?? '/', 'http://emulator');
    const get = req.method === 'GET';
    const post = req.method === 'POST';
    if (get && (pathname === '/' || pathname === '/health')) return sendJson(res, 200, { status: 'ok', emulator: true });
    if (get && pathname === '/v1/models') return listModels(req, res, req.headers['anthropic-version'] ? 'anthropic' : 'openai');
    if (get && /^\/v1beta\/models\/?$/.test(pathname)) return listModels(req, res, 'google');
    if (post && pathname === '/v1/chat/completions') return generate(req, res, 'openai', null, closed);
    if (post && pathname === '/v1/messages') return generate(req, res, 'anthropic', null, closed);
    const gemini = post ? /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(pathname) : null;
    if (gemini?.[1]) return generate(req, res, 'google', decodeURIComponent(gemini[1]), closed, gemini[2] === 'streamGenerateContent');
    const dialect: Dialect = pathname.includes('beta') ? 'google' : req.headers['anthropic-version'] ? 'anthropic' : 'openai';
    return sendError(res, dialect, 404, `emulator: no route for ${req.method ?? '?'} ${pathname}`);
  }

  function listModels(req: IncomingMessage, res: ServerResponse, dialect: Dialect): void {
    if (!hasCredential(req, dialect)) return sendError(res, dialect, 401, 'emulator: no API key sent');
    const ids = [...new Set([...models.keys(), ...stats.keys()])].sort();
    const created = Math.floor(Date.now() / 1000);
    const body =
      dialect === 'openai'
        ? { object: 'list', data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'emulator' })) }
        : dialect === 'anthropic'
          ? {
              data: ids.map((id) => ({ type: 'model', id, display_name: `${id} (emulated)`, created_at: new Date().toISOString() })),
              has_more: false,
              first_id: ids[0] ?? null,
              last_id: ids.at(-1) ?? null,
            }
          : { models: ids.map((id) => ({ name: `models/${id}`, displayName: `${id} (emulated)`, supportedGenerationMethods: ['generateContent'] })) };
    sendJson(res, 200, body, requestIdHeaders(dialect));
  }

  async function generate(req: IncomingMessage, res: ServerResponse, dialect: Dialect, pathModel: string | null, closed: AbortSignal, streamRoute = false): Promise<void> {
    const raw = await readJson(req);
    if (!hasCredential(req, dialect)) return sendError(res, dialect, 401, 'emulator: no API key sent');
    if (raw === undefined) return sendError(res, dialect, 400, 'emulator: request body is not valid JSON');
    const call = parseCall(dialect, raw, pathModel, streamRoute);
    if (typeof call === 'string') return sendError(res, dialect, 400, `emulator: ${call}`);
    let directives: Directives;
    try {
      directives = parseDirectives(call.prompt, call.model);
    } catch (err) {
      return sendError(res, dialect, 400, `emulator: ${(err as Error).message}`);
    }
    const { model, prompt } = call;
    const settings = models.get(model);
    const key = `${model}\u0000${prompt}`;
    const attempt = counters.get(key) ?? 0;
    counters.delete(key); // re-insert so the map stays in least-recently-used order
    counters.set(key, attempt + 1);
    if (counters.size > MAX_COUNTERS) counters.delete(counters.keys().next().value ?? '');
    const stat = stats.get(model) ?? { calls: 0, faults: 0 };
    stats.set(model, stat);
    stat.calls++;

    const fault = chooseFault([...directives.faults, ...(settings?.faults ?? [])], model, prompt, attempt);
    if (fault) stat.faults++;
    let headerId: string | null = null;
    let bodyId: string | null = null;
    if (options.onCall) {
      const onCall = options.onCall;
      const startedAt = Date.now();
      res.once('close', () => {
        const ids = [headerId, bodyId].filter((x): x is string => x !== null);
        onCall({ model, prompt, attempt, startedAt, endedAt: Date.now(), fault: fault?.kind ?? null, status: res.headersSent ? res.statusCode : null, completed: res.writableFinished, ids });
      });
    }
    if (fault?.kind === 'hang') return void (await waitForAbort(closed));
    try {
      const latencyMs = directives.latencyMs ?? settings?.latency_ms ?? options.settings.latency_ms;
      if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closed });
    } catch {
      return; // client went away
    }
    if (typeof fault?.kind === 'number') return sendError(res, dialect, fault.kind, FAULT_MESSAGES[fault.kind] ?? `emulator: injected HTTP ${fault.kind}`, fault.retry_after_s);

    const answer = emulatedAnswer({
      model,
      prompt: directives.prompt,
      ...(settings?.accuracy === undefined ? {} : { accuracy: settings.accuracy }),
      ...(directives.answer === undefined ? {} : { force: directives.answer }),
    });
    let text = answer.text;
    let truncated = false;
    if (call.maxTokens !== null && approxTokens(text) > call.maxTokens) {
      text = text.slice(0, call.maxTokens * 4);
      truncated = true;
    }
    const usage = { input: approxTokens(call.inputText), output: approxTokens(text) };
    const success: Success = { model, text, truncated, usage, confidence: answer.confidence };
    if (call.stream) {
      const midstream = directives.midstream && (directives.midstream.times === undefined || attempt < directives.midstream.times) ? directives.midstream.afterChunks : null;
      if (midstream !== null) stat.faults++;
      return streamSuccess(res, dialect, success, {
        includeUsage: call.includeUsage,
        failAfterChunks: midstream,
        malformed: fault?.kind === 'malformed',
        chunkDelayMs: directives.chunkDelayMs ?? 0,
        closed,
      });
    }
    const body = successBody(dialect, success);
    const idHeaders = requestIdHeaders(dialect);
    headerId = Object.values(idHeaders)[0] ?? null;
    bodyId = responseIdOf(body);
    if (fault?.kind === 'malformed') {
      const json = JSON.stringify(body);
      return sendRaw(res, 200, json.slice(0, Math.floor(json.length / 2)), idHeaders);
    }
    sendJson(res, 200, body, idHeaders);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `emulator: ${(err as Error).message}` } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // ends hung requests and idle keep-alive sockets
      })),
    setModelSettings: (model, settings) => void models.set(model, EmulatedModelSchema.parse(settings)),
    resetFaults: () => {
      for (const [model, settings] of models) models.set(model, { ...settings, faults: [] });
      counters.clear();
    },
    stats: () => Object.fromEntries([...stats].map(([model, s]) => [model, { ...s }])),
  };
}

// ---------------------------------------------------------------------------------------------
// Directives and faults

export interface Directives {
  faults: Fault[];
  latencyMs?: number;
  /** Streaming: fail after this many chunks (on the first `times` calls per model+prompt when set). */
  midstream?: { afterChunks: number; times?: number };
  /** Streaming: delay between chunks. */
  chunkDelayMs?: number;
  answer?: 'correct' | 'wrong';
  /** The prompt without directives. */
  prompt: string;
}

const DIRECTIVE = /\[\[emulate(?:@([^:\]]+))?:([^\]]*)\]\]/g;
const FAULT_ITEM = /^(\d{3}|hang|malformed)(?:x(\d+))?((?::(?:retry|rate)=\d+(?:\.\d+)?)*)$/;

/** Parse the `[[emulate...]]` directives of a prompt that apply to `model`. Throws on an unknown item. */
export function parseDirectives(prompt: string, model: string): Directives {
  const out: Directives = { faults: [], prompt: prompt.replace(DIRECTIVE, ' ').replace(/\s+/g, ' ').trim() };
  for (const [, scope, items = ''] of prompt.matchAll(DIRECTIVE)) {
    if (scope !== undefined && scope !== model) continue;
    for (const item of items.split(',').map((s) => s.trim()).filter(Boolean)) {
      const fault = FAULT_ITEM.exec(item);
      const latency = /^latency=(\d+)$/.exec(item);
      const answer = /^answer=(correct|wrong)$/.exec(item);
      const midstream = /^midstream=(\d+)(?:x(\d+))?$/.exec(item);
      const chunkms = /^chunkms=(\d+)$/.exec(item);
      if (fault) {
        const [, kind = '', times, params = ''] = fault;
        const param = (name: string): number | undefined => {
          const m = new RegExp(`:${name}=([\\d.]+)`).exec(params);
          return m?.[1] === undefined ? undefined : Number(m[1]);
        };
        const status = Number(kind);
        if (/^\d+$/.test(kind) && (status < 400 || status > 599)) throw new Error(`directive "${item}": status must be 400-599`);
        const rate = param('rate');
        const retry = param('retry');
        out.faults.push({
          kind: kind === 'hang' || kind === 'malformed' ? kind : status,
          rate: rate === undefined ? 1 : Math.min(1, rate),
          ...(times === undefined ? {} : { times: Number(times) }),
          ...(retry === undefined ? {} : { retry_after_s: retry }),
        });
      } else if (latency?.[1] !== undefined) out.latencyMs = Number(latency[1]);
      else if (midstream?.[1] !== undefined) out.midstream = { afterChunks: Number(midstream[1]), ...(midstream[2] === undefined ? {} : { times: Number(midstream[2]) }) };
      else if (chunkms?.[1] !== undefined) out.chunkDelayMs = Number(chunkms[1]);
      else if (answer?.[1] === 'correct' || answer?.[1] === 'wrong') out.answer = answer[1];
      else throw new Error(`unknown directive item "${item}" (see src/emulator/server.ts)`);
    }
  }
  return out;
}

/** The first fault that applies to this attempt (0-based per model+prompt), if any. */
export function chooseFault(faults: readonly Fault[], model: string, prompt: string, attempt: number): Fault | undefined {
  return faults.find((f, i) => (f.times === undefined || attempt < f.times) && (f.rate >= 1 || unitHash('fault', model, prompt, attempt, i) < f.rate));
}

// ---------------------------------------------------------------------------------------------
// Wire formats

const TextContentSchema = z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]);
const OpenAIRequestSchema = z.object({
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  // The roles OpenAI's Chat Completions accepts.
  messages: z.array(z.object({ role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']), content: TextContentSchema.nullish() })).min(1),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
});
const AnthropicRequestSchema = z.object({
  model: z.string().min(1),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().positive(),
  // As Anthropic's API: the system text goes in `system`; a turn is the user's or the assistant's.
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: TextContentSchema })).min(1),
  system: TextContentSchema.optional(),
});
const GooglePartsSchema = z.array(z.looseObject({ text: z.string().optional() }));
const GoogleRequestSchema = z.object({
  // As Gemini's API: turns are the user's or the model's (the system text is systemInstruction).
  contents: z.array(z.object({ role: z.enum(['user', 'model']).optional(), parts: GooglePartsSchema })).min(1),
  systemInstruction: z.object({ parts: GooglePartsSchema }).optional(),
  generationConfig: z.object({ maxOutputTokens: z.number().int().positive().optional() }).optional(),
});

interface ParsedCall {
  model: string;
  /** Text of the last user message. */
  prompt: string;
  /** Everything the model reads, for the input token count. */
  inputText: string;
  maxTokens: number | null;
  /** Answer as server-sent events. */
  stream: boolean;
  /** OpenAI: end the stream with a usage chunk (`stream_options.include_usage`); the others always report usage. */
  includeUsage: boolean;
}

function textOf(content: z.infer<typeof TextContentSchema> | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((c) => c.text ?? '').join('');
}

function parseCall(dialect: Dialect, raw: unknown, pathModel: string | null, streamRoute: boolean): ParsedCall | string {
  const problem = (error: z.ZodError): string => error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
  if (dialect === 'openai') {
    const r = OpenAIRequestSchema.safeParse(raw);
    if (!r.success) return problem(r.error);
    const user = r.data.messages.filter((m) => m.role === 'user').at(-1);
    return {
      model: r.data.model,
      prompt: textOf(user?.content),
      inputText: r.data.messages.map((m) => textOf(m.content)).join('\n'),
      maxTokens: r.data.max_completion_tokens ?? r.data.max_tokens ?? null,
      stream: r.data.stream === true,
      includeUsage: r.data.stream_options?.include_usage === true,
    };
  }
  if (dialect === 'anthropic') {
    const r = AnthropicRequestSchema.safeParse(raw);
    if (!r.success) return problem(r.error);
    const user = r.data.messages.filter((m) => m.role === 'user').at(-1);
    return {
      model: r.data.model,
      prompt: textOf(user?.content),
      inputText: [textOf(r.data.system), ...r.data.messages.map((m) => textOf(m.content))].join('\n'),
      maxTokens: r.data.max_tokens,
      stream: r.data.stream === true,
      includeUsage: true,
    };
  }
  const r = GoogleRequestSchema.safeParse(raw);
  if (!r.success) return problem(r.error);
  const parts = (p: z.infer<typeof GooglePartsSchema>): string => p.map((x) => x.text ?? '').join('');
  const user = r.data.contents.filter((c) => c.role === undefined || c.role === 'user').at(-1);
  return {
    model: (pathModel ?? '').replace(/^models\//, ''),
    prompt: user ? parts(user.parts) : '',
    inputText: [r.data.systemInstruction ? parts(r.data.systemInstruction.parts) : '', ...r.data.contents.map((c) => parts(c.parts))].join('\n'),
    maxTokens: r.data.generationConfig?.maxOutputTokens ?? null,
    stream: streamRoute,
    includeUsage: true,
  };
}

interface Success {
  model: string;
  text: string;
  truncated: boolean;
  usage: { input: number; output: number };
  confidence: number;
}

function successBody(dialect: Dialect, s: Success): unknown {
  if (dialect === 'openai') {
    return {
      id: `chatcmpl-${randomId(29)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: s.model,
      choices: [{ index: 0, message: { role: 'assistant', content: s.text, refusal: null, annotations: [] }, logprobs: null, finish_reason: s.truncated ? 'length' : 'stop' }],
      usage: {
        prompt_tokens: s.usage.input,
        completion_tokens: s.usage.output,
        total_tokens: s.usage.input + s.usage.output,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_emulator',
    };
  }
  if (dialect === 'anthropic') {
    return {
      id: `msg_01${randomId(22)}`,
      type: 'message',
      role: 'assistant',
      model: s.model,
      content: [{ type: 'text', text: s.text }],
      stop_reason: s.truncated ? 'max_tokens' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: s.usage.input, output_tokens: s.usage.output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    };
  }
  return {
    candidates: [
      {
        content: { parts: [{ text: s.text }], role: 'model' },
        finishReason: s.truncated ? 'MAX_TOKENS' : 'STOP',
        avgLogprobs: Math.log(s.confidence),
        index: 0,
      },
    ],
    usageMetadata: {
      promptTokenCount: s.usage.input,
      candidatesTokenCount: s.usage.output,
      totalTokenCount: s.usage.input + s.usage.output,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: s.usage.input }],
    },
    modelVersion: s.model,
    responseId: randomId(22),
  };
}

// ---------------------------------------------------------------------------------------------
// Streaming

interface StreamPlan {
  includeUsage: boolean;
  /** Fail with an in-band error event after this many text chunks (null: no failure). */
  failAfterChunks: number | null;
  /** Send a broken event halfway. */
  malformed: boolean;
  chunkDelayMs: number;
  closed: AbortSignal;
}

/** The answer a word at a time (each piece keeps its leading whitespace). */
export function streamPieces(text: string): string[] {
  return text.match(/\s*\S+(?:\s+$)?/g) ?? (text === '' ? [] : [text]);
}

const MIDSTREAM_MESSAGE = 'emulator: injected mid-stream failure';

async function streamSuccess(res: ServerResponse, dialect: Dialect, s: Success, plan: StreamPlan): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...requestIdHeaders(dialect) });
  const send = (data: unknown, event?: string): void => {
    res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  };
  const pieces = streamPieces(s.text);
  const id = dialect === 'openai' ? `chatcmpl-${randomId(29)}` : dialect === 'anthropic' ? `msg_01${randomId(22)}` : randomId(22);
  const created = Math.floor(Date.now() / 1000);
  const openaiChunk = (delta: Record<string, unknown>, finish: string | null): unknown => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: s.model,
    system_fingerprint: 'fp_emulator',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const googleChunk = (text: string, last: boolean): unknown => ({
    candidates: [
      {
        content: { parts: [{ text }], role: 'model' },
        ...(last && { finishReason: s.truncated ? 'MAX_TOKENS' : 'STOP', avgLogprobs: Math.log(s.confidence) }),
        index: 0,
      },
    ],
    usageMetadata: {
      promptTokenCount: s.usage.input,
      ...(last && { candidatesTokenCount: s.usage.output, totalTokenCount: s.usage.input + s.usage.output }),
    },
    modelVersion: s.model,
    responseId: id,
  });

  if (dialect === 'openai') send(openaiChunk({ role: 'assistant', content: '', refusal: null }, null));
  if (dialect === 'anthropic') {
    send({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model: s.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: s.usage.input, output_tokens: 1 } } }, 'message_start');
    send({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start');
    send({ type: 'ping' }, 'ping');
  }
  for (const [i, piece] of pieces.entries()) {
    if (plan.failAfterChunks !== null && i >= plan.failAfterChunks) return endWithError(res, dialect, send);
    if (plan.malformed && i === Math.floor(pieces.length / 2)) {
      res.write(`${dialect === 'anthropic' ? 'event: content_block_delta\n' : ''}data: {"choices": [{"delta": \n\n`);
      return void res.end();
    }
    if (dialect === 'openai') send(openaiChunk({ content: piece }, null));
    else if (dialect === 'anthropic') send({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }, 'content_block_delta');
    else send(googleChunk(piece, i === pieces.length - 1));
    try {
      // Each chunk leaves in its own write, even without a delay.
      await (plan.chunkDelayMs > 0 ? sleep(plan.chunkDelayMs, undefined, { signal: plan.closed }) : new Promise((r) => setImmediate(r)));
    } catch {
      return; // client went away
    }
    if (res.destroyed) return;
  }
  if (plan.failAfterChunks !== null) return endWithError(res, dialect, send);
  if (dialect === 'openai') {
    send(openaiChunk({}, s.truncated ? 'length' : 'stop'));
    if (plan.includeUsage) {
      send({ id, object: 'chat.completion.chunk', created, model: s.model, system_fingerprint: 'fp_emulator', choices: [], usage: { prompt_tokens: s.usage.input, completion_tokens: s.usage.output, total_tokens: s.usage.input + s.usage.output } });
    }
    send('[DONE]');
  } else if (dialect === 'anthropic') {
    send({ type: 'content_block_stop', index: 0 }, 'content_block_stop');
    send({ type: 'message_delta', delta: { stop_reason: s.truncated ? 'max_tokens' : 'end_turn', stop_sequence: null }, usage: { output_tokens: s.usage.output } }, 'message_delta');
    send({ type: 'message_stop' }, 'message_stop');
  } else if (pieces.length === 0) {
    send(googleChunk('', true));
  }
  res.end();
}

/** The provider's in-band stream error (its SDK raises it while iterating), then the end of the response. */
function endWithError(res: ServerResponse, dialect: Dialect, send: (data: unknown, event?: string) => void): void {
  if (dialect === 'openai') send({ error: { message: MIDSTREAM_MESSAGE, type: 'server_error', param: null, code: null } });
  else if (dialect === 'anthropic') send({ type: 'error', error: { type: 'overloaded_error', message: MIDSTREAM_MESSAGE } }, 'error');
  else send({ error: { code: 500, message: MIDSTREAM_MESSAGE, status: 'INTERNAL' } });
  res.end();
}

const FAULT_MESSAGES: Record<number, string> = {
  400: 'emulator: injected bad request',
  401: 'emulator: injected authentication failure (invalid API key)',
  403: 'emulator: injected permission denied',
  404: 'emulator: injected not found',
  429: 'emulator: injected rate limit (too many requests)',
  500: 'emulator: injected internal server error',
  503: 'emulator: injected service unavailable',
  529: 'Overloaded',
};
const OPENAI_ERROR: Record<number, [type: string, code: string | null]> = {
  401: ['invalid_request_error', 'invalid_api_key'],
  403: ['invalid_request_error', 'unsupported_country_region_territory'],
  404: ['invalid_request_error', 'model_not_found'],
  429: ['requests', 'rate_limit_exceeded'],
};
const ANTHROPIC_ERROR: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};
const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

function sendError(res: ServerResponse, dialect: Dialect, status: number, message: string, retryAfterS?: number): void {
  const headers: Record<string, string> = { ...requestIdHeaders(dialect), ...(retryAfterS === undefined ? {} : { 'retry-after': String(retryAfterS) }) };
  let body: unknown;
  if (dialect === 'openai') {
    const [type, code] = OPENAI_ERROR[status] ?? [status >= 500 ? 'server_error' : 'invalid_request_error', null];
    body = { error: { message, type, param: null, code } };
  } else if (dialect === 'anthropic') {
    const type = ANTHROPIC_ERROR[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    body = { type: 'error', error: { type, message }, request_id: headers['request-id'] };
  } else {
    const details = retryAfterS === undefined ? [] : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterS}s` }];
    body = { error: { code: status, message, status: GOOGLE_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'), details } };
  }
  sendJson(res, status, body, headers);
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

/** The id a success body carries (OpenAI/Anthropic `id`, Gemini `responseId`). */
function responseIdOf(body: unknown): string | null {
  const b = body as { id?: unknown; responseId?: unknown };
  const id = b.id ?? b.responseId;
  return typeof id === 'string' ? id : null;
}

function requestIdHeaders(dialect: Dialect): Record<string, string> {
  return dialect === 'anthropic' ? { 'request-id': `req_011C${randomId(20)}` } : { 'x-request-id': `req_${randomBytes(16).toString('hex')}` };
}

function hasCredential(req: IncomingMessage, dialect: Dialect): boolean {
  const h = req.headers;
  const bearer = /^Bearer\s+\S+/i.test(h.authorization ?? '');
  if (dialect === 'openai') return bearer;
  if (dialect === 'anthropic') return Boolean(h['x-api-key']) || bearer;
  return Boolean(h['x-goog-api-key']) || bearer || new URL(req.url ?? '/', 'http://emulator').searchParams.has('key');
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** The parsed JSON body, or undefined when it is not JSON. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buf);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendRaw(res, status, JSON.stringify(body), headers);
}

function sendRaw(res: ServerResponse, status: number, text: string, headers: Record<string, string>): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Fires when the client closes the connection before we answered. */
function closeSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomId(length: number): string {
  return [...randomBytes(length)].map((b) => BASE62[b % 62]).join('');
}
