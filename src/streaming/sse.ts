/**
 * OpenAI-format server-sent events from the stream bus, for the gateway: `chat.completion.chunk`
 * objects (what the official SDKs' streaming helpers parse), the terminating `[DONE]`, an in-band
 * error event, and `streamSelectedCall`, which forwards the one provider call a single-provider
 * request streams.
 *
 * Which call is forwarded: the first call that produces a delta, and only it. A call that fails
 * before its first token publishes nothing, so its failover is invisible to the client; once a call
 * has been forwarded, an error of that call ends the stream with an error (never another call's
 * tokens spliced in after it), and its `done` ends it normally.
 */
import type { StreamBus, StreamEvent } from './bus';

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; logprobs: null; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  [extra: string]: unknown;
}

export interface ChunkInit {
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
  delta?: { role?: 'assistant'; content?: string };
  finishReason?: string | null;
  /** Fields added at the top level of the chunk (e.g. the orchestrator's metadata on the first chunk). */
  extra?: Record<string, unknown>;
}

/** One `chat.completion.chunk` with one choice. */
export function openAiChunk(init: ChunkInit): ChatCompletionChunk {
  return {
    ...(init.extra ?? {}),
    id: init.id,
    object: 'chat.completion.chunk',
    created: init.created,
    model: init.model,
    choices: [{ index: 0, delta: init.delta ?? {}, logprobs: null, finish_reason: init.finishReason ?? null }],
  };
}

/** The usage chunk OpenAI sends last when `stream_options.include_usage` is set: no choices. */
export function openAiUsageChunk(init: Omit<ChunkInit, 'delta' | 'finishReason'> & { tokensIn: number; tokensOut: number }): ChatCompletionChunk {
  return {
    ...(init.extra ?? {}),
    id: init.id,
    object: 'chat.completion.chunk',
    created: init.created,
    model: init.model,
    choices: [],
    usage: { prompt_tokens: init.tokensIn, completion_tokens: init.tokensOut, total_tokens: init.tokensIn + init.tokensOut },
  };
}

/** Our finish reasons (src/types.ts FinishReason) in OpenAI's vocabulary. */
export function openAiFinishReason(reason: string | null): 'stop' | 'length' | 'content_filter' | 'tool_calls' {
  return reason === 'length' || reason === 'content_filter' || reason === 'tool_calls' ? reason : 'stop';
}

/** One server-sent event carrying JSON. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

/** An in-band error: the OpenAI SDKs raise it as an APIError while iterating the stream. */
export function sseError(message: string, type: string, code: string | null = null): string {
  return sseData({ error: { message, type, param: null, code } });
}

export interface StreamSelectedCallOptions {
  /** The completion id every chunk carries (`chatcmpl-...`). */
  id: string;
  /** The model name the chunks report; default the streaming call's model. */
  model?: string;
  /** Unix seconds; default now. */
  created?: number;
  /** Fields added to the first chunk only. */
  firstChunkExtra?: Record<string, unknown>;
  /** Stop forwarding (client gone, or the workflow finished without any call streaming). */
  signal?: AbortSignal;
}

export type StreamSelectedCallResult =
  | { outcome: 'done'; callIndex: number; provider: string | null; model: string | null; text: string; finishReason: string | null }
  | { outcome: 'error'; callIndex: number; provider: string | null; model: string | null; text: string; errorType: string; message: string }
  | { outcome: 'aborted'; callIndex: number | null; provider: string | null; model: string | null; text: string };

/**
 * Forward the first call of `workflowId` that produces a delta to `write` as OpenAI chunks: a
 * first chunk with `role: 'assistant'` (and `firstChunkExtra`), one chunk per delta, and on the
 * call's `done` a chunk with its finish reason. Writes no `[DONE]` and no usage chunk (the caller
 * adds them from the workflow's result). Resolves when the call ended (`done` or `error`) or the
 * signal fired, after every write has settled; a rejected write ends it with that error.
 */
export function streamSelectedCall(
  bus: StreamBus,
  workflowId: string,
  write: (sse: string) => void | Promise<void>,
  options: StreamSelectedCallOptions,
): Promise<StreamSelectedCallResult> {
  const created = options.created ?? Math.floor(Date.now() / 1000);
  return new Promise<StreamSelectedCallResult>((resolve, reject) => {
    let selected: { callIndex: number; provider: string | null; model: string | null } | null = null;
    let text = '';
    let finished = false;
    let writes: Promise<void> = Promise.resolve();
    const emit = (sse: string): void => {
      writes = writes.then(() => write(sse));
      // A failed write (client gone) ends forwarding at once with that error.
      writes.catch((err: unknown) => {
        if (finished) return;
        finished = true;
        unsubscribe?.();
        options.signal?.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    };
    const chunk = (init: Omit<ChunkInit, 'id' | 'created' | 'model'>): ChatCompletionChunk =>
      openAiChunk({ id: options.id, created, model: options.model ?? selected?.model ?? 'unknown', ...init });
    const finish = (result: StreamSelectedCallResult): void => {
      if (finished) return;
      finished = true;
      unsubscribe?.();
      options.signal?.removeEventListener('abort', onAbort);
      writes.then(() => resolve(result), reject);
    };
    const select = (callIndex: number, provider: string | null, model: string | null): void => {
      selected = { callIndex, provider, model };
      emit(sseData(chunk({ delta: { role: 'assistant', content: '' }, ...(options.firstChunkExtra && { extra: options.firstChunkExtra }) })));
    };
    const onEvent = (e: StreamEvent): void => {
      if (finished) return;
      if (selected === null) {
        // Before the first token nothing is forwarded: an error here is a call the workflow fails over from.
        if (e.type === 'delta') select(e.callIndex, e.provider, e.model);
        else if (e.type === 'done') select(e.callIndex, null, null); // an empty answer
        else return;
      }
      const call = selected;
      if (call === null || e.callIndex !== call.callIndex) return;
      if (e.type === 'delta') {
        if (e.text === '') return;
        text += e.text;
        emit(sseData(chunk({ delta: { content: e.text } })));
      } else if (e.type === 'done') {
        emit(sseData(chunk({ finishReason: openAiFinishReason(e.finishReason) })));
        finish({ outcome: 'done', ...call, text, finishReason: e.finishReason });
      } else {
        finish({ outcome: 'error', ...call, text, errorType: e.errorType, message: e.message });
      }
    };
    const onAbort = (): void => finish({ outcome: 'aborted', callIndex: selected?.callIndex ?? null, provider: selected?.provider ?? null, model: selected?.model ?? null, text });
    let unsubscribe: (() => void) | null = null;
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const off = bus.subscribe(workflowId, onEvent);
    if (finished) off();
    else unsubscribe = off;
  });
}
