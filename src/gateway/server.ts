/**
 * The OpenAI-compatible HTTP gateway (Fastify): every chat completion is a durable request
 * workflow started through OrchestratorClient (validation, workflow id from the request id,
 * IdempotencyConflict), authenticated by API key, answered in OpenAI's shapes.
 *
 * The client hanging up never cancels the workflow: it runs to its end and stores its answer, and
 * the same idempotency key returns that answer. Past the wait limit the gateway answers 504 with
 * the workflow id; the workflow keeps running.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { OrchestratorClient } from '../../client/orchestrator-client';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { StreamBus } from '../streaming/bus';
import { openAiChunk, openAiUsageChunk, sseData, sseError, SSE_DONE, streamSelectedCall } from '../streaming/sse';
import type { OrchestrationResult } from '../types';
import { OrchestratorError } from '../errors';
import { AUTH_FAILURES, bearerKey } from './auth';
import { GatewayError, toHttpError, validationError, type HttpError } from './errors';
import {
  chatCompletion,
  chatCompletionBodySchema,
  completionId,
  modelIds,
  orchestrationHeaders,
  orchestrationMetadata,
  toOrchestrateRequest,
  type ChatCompletionBody,
} from './openai';
import { registerHttpTracing } from '../tracing/http-span';

/** What the gateway needs of the key store (src/auth/keys.ts createKeyStore). */
export interface KeyAuthenticator {
  authenticate(rawKey: string | undefined): Promise<{ ok: true; key: { id: string; userId: string } } | { ok: false; reason: 'missing' | 'unknown' | 'revoked' | 'expired' }>;
}

export interface GatewayDeps {
  orchestrator: OrchestratorClient;
  config: Config;
  keys: KeyAuthenticator;
  logger: Logger;
  /** Start workflows eagerly (the orchestrator's client is on a co-located worker's NativeConnection). */
  eagerStart: boolean;
  /** The in-process bus of the co-located worker; null: streams are sent after completion. */
  streamBus: StreamBus | null;
  /** How long starting a workflow may take before 503 (default 10 s). */
  startDeadlineMs?: number;
  /** How long a request waits for its answer before 504 (the workflow keeps running). */
  waitTimeoutMs: number;
  /** GET /readyz: each check rejects when its service is unreachable. */
  readiness: { temporal: () => Promise<unknown>; database: () => Promise<unknown> };
  /** More routes (the admin endpoints, src/gateway/admin.ts). */
  register?: (app: FastifyInstance) => void | Promise<void>;
  /** HTTP requests by route pattern, method and status (src/metrics); absent: not recorded. */
  metrics?: Metrics;
}


function sendError(reply: FastifyReply, e: HttpError): FastifyReply {
  return reply.code(e.status).headers(e.headers).send(e.body);
}


/** Resolves with the workflow's result, or rejects with a 504 GatewayError naming the workflow after `ms`. */
async function resultWithin(orchestrator: OrchestratorClient, workflowId: string, ms: number): Promise<OrchestrationResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new GatewayError(504, `no answer within ${ms} ms; the request keeps running as workflow ${workflowId}: resubmit with the same idempotency key to get its answer`, 'timeout_error', null, 'deadline_exceeded', {
            workflowId,
            headers: { 'x-orchestration-workflow-id': workflowId },
          }),
        ),
      ms,
    );
  });
  try {
    const result = orchestrator.getResult(workflowId).catch((err: unknown) => {
      // The request's own failure (InsufficientResponses, ConsensusNotReached...): name its workflow.
      if (err instanceof OrchestratorError && typeof err.details['workflowId'] !== 'string') err.details['workflowId'] = workflowId;
      throw err;
    });
    return await Promise.race([result, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const { orchestrator, config, keys, logger } = deps;
  const app = Fastify({
    logger: false,
    bodyLimit: 4 * 1024 * 1024,
    // Unknown fields are refused (never silently dropped), and types are not coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  app.setErrorHandler((err: Error & { validation?: unknown[]; statusCode?: number }, _request, reply) => {
    if (Array.isArray(err.validation)) return sendError(reply, validationError(err.validation as Parameters<typeof validationError>[0]));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, { status: err.statusCode, body: { error: { message: err.message, type: 'invalid_request_error', param: null, code: null } }, headers: {} });
    }
    const e = toHttpError(err);
    // The error itself, not its message: the logger redacts a request failure's message (it quotes providers).
    if (e.status >= 500) logger.warn({ err, status: e.status, code: e.body.error.code }, 'gateway request failed');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, { status: 404, body: { error: { message: `no route ${request.method} ${request.url}`, type: 'invalid_request_error', param: null, code: 'not_found' } }, headers: {} }),
  );

  const metrics = deps.metrics;
  if (metrics?.enabled) {
    // The route pattern (`/v1/chat/completions`, `/admin/keys/:id`), never the URL: bounded labels.
    app.addHook('onResponse', (request, reply, done) => {
      metrics.http(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  // A server span per request when tracing is on (src/tracing/http-span.ts): the root of a request's trace.
  registerHttpTracing(app);

  const authenticate = async (request: FastifyRequest) => {
    const result = await keys.authenticate(bearerKey(request));
    if (!result.ok) throw new GatewayError(401, AUTH_FAILURES[result.reason], 'invalid_request_error', null, 'invalid_api_key');
    return result.key;
  };

  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    };
    const [temporal, database] = await Promise.all([check(deps.readiness.temporal), check(deps.readiness.database)]);
    const failing = [...(temporal ? ['temporal'] : []), ...(database ? ['database'] : [])];
    const status = { temporal: temporal ?? 'ok', database: database ?? 'ok' };
    if (failing.length > 0) return reply.code(503).send({ status: 'unavailable', unavailable: failing, checks: status });
    return { status: 'ready', checks: status };
  });

  app.get('/v1/models', async (request) => {
    await authenticate(request);
    return { object: 'list', data: modelIds(config).map((id) => ({ id, object: 'model', created: 0, owned_by: 'orchestrator' })) };
  });

  app.post<{ Body: ChatCompletionBody }>('/v1/chat/completions', { schema: { body: chatCompletionBodySchema } }, async (request, reply) => {
    const key = await authenticate(request);
    const body = request.body;
    if (body.user !== undefined && body.user !== key.userId) {
      throw new GatewayError(403, `user "${body.user}" is not this key's user: a key acts only for its own user`, 'permission_error', 'user', 'user_mismatch');
    }
    const idempotencyKey = request.headers['idempotency-key'];
    const stream = body.stream === true;
    // A request to one explicit provider without consensus has one call: its tokens can be forwarded live.
    const single = body.model.includes(':') && !body.model.startsWith('route:') && body.orchestration?.require_consensus !== true && (body.orchestration?.min_providers ?? 1) <= 1;
    const live = stream && single && deps.streamBus !== null;
    const { request: orchestrateRequest } = toOrchestrateRequest(config, body, {
      userId: key.userId,
      idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : undefined,
      stream: live,
    });
    const created = Math.floor(Date.now() / 1000);
    // Temporal down: the start's retries end at this deadline (503), instead of holding the client for the gRPC retry budget.
    const { workflowId } = await orchestrator.client.withDeadline(Date.now() + (deps.startDeadlineMs ?? 10_000), () => orchestrator.start(orchestrateRequest, { eager: deps.eagerStart }));
    if (!stream) {
      const result = await resultWithin(orchestrator, workflowId, deps.waitTimeoutMs);
      return reply.headers(orchestrationHeaders(result)).send(chatCompletion(result, body.model, created, orchestrator.webUiUrl(workflowId)));
    }
    const mode = live ? 'live' : !deps.streamBus ? 'after_completion' : single ? 'after_completion' : 'after_consensus';
    return streamResponse({ deps, reply, request, workflowId, model: body.model, created, mode, includeUsage: body.stream_options?.include_usage === true });
  });

  await deps.register?.(app);
  return app;
}

interface StreamContext {
  deps: GatewayDeps;
  request: FastifyRequest;
  reply: FastifyReply;
  workflowId: string;
  model: string;
  created: number;
  /** live: the provider's tokens as they arrive; after_consensus / after_completion: the stored answer once the workflow finished. */
  mode: 'live' | 'after_consensus' | 'after_completion';
  includeUsage: boolean;
}

/**
 * Server-sent events in OpenAI's chunk format, ending with `data: [DONE]`. Headers are written
 * with the first chunk, so a request that fails before any token gets a plain HTTP error.
 */
async function streamResponse(ctx: StreamContext): Promise<void> {
  const { deps, reply, workflowId, model, created } = ctx;
  const id = completionId(workflowId);
  const raw = reply.raw;
  const gone = new AbortController();
  raw.on('close', () => gone.abort());
  reply.hijack();
  let headWritten = false;
  const head = (extra: Record<string, string> = {}) => {
    if (headWritten) return;
    headWritten = true;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-orchestration-workflow-id': workflowId, ...extra });
  };
  const write = (s: string) => {
    if (gone.signal.aborted) return;
    head();
    raw.write(s);
  };
  const fail = (err: unknown) => {
    const e = toHttpError(err);
    if (!headWritten && !gone.signal.aborted) {
      raw.writeHead(e.status, { 'content-type': 'application/json', ...e.headers });
      raw.end(JSON.stringify(e.body));
      return;
    }
    write(sseError(e.body.error.message, e.body.error.type, e.body.error.code));
    raw.end();
  };
  const finishWith = (result: OrchestrationResult, afterText: boolean) => {
    const meta = orchestrationMetadata(result, deps.orchestrator.webUiUrl(workflowId));
    head(orchestrationHeaders(result));
    if (!afterText) {
      // The whole stored answer: a first chunk saying how it was streamed, the text, the finish.
      write(sseData(openAiChunk({ id, created, model, delta: { role: 'assistant', content: '' }, extra: { orchestration: { streamed: ctx.mode === 'live' ? 'after_completion' : ctx.mode, ...meta } } })));
      write(sseData(openAiChunk({ id, created, model, delta: { content: result.response } })));
      write(sseData(openAiChunk({ id, created, model, finishReason: 'stop' })));
    }
    if (ctx.includeUsage) write(sseData(openAiUsageChunk({ id, created, model, tokensIn: result.metadata.tokensIn, tokensOut: result.metadata.tokensOut, extra: { orchestration: meta } })));
    write(SSE_DONE);
    raw.end();
  };

  const resultPromise = resultWithin(deps.orchestrator, workflowId, deps.waitTimeoutMs);
  // Never an unhandled rejection when the live path returns early.
  resultPromise.catch(() => undefined);
  try {
    if (ctx.mode === 'live' && deps.streamBus) {
      const stop = new AbortController();
      gone.signal.addEventListener('abort', () => stop.abort(), { once: true });
      // The workflow finishing with nothing streamed (a cached answer) stops forwarding; its answer is then sent whole.
      void resultPromise.then(
        () => setTimeout(() => stop.abort(), 50),
        () => stop.abort(),
      );
      const forwarded = await streamSelectedCall(deps.streamBus, workflowId, write, {
        id,
        model,
        created,
        firstChunkExtra: { orchestration: { streamed: 'live', workflow_id: workflowId } },
        signal: stop.signal,
      });
      if (gone.signal.aborted) return;
      if (forwarded.outcome === 'error') {
        write(sseError(`the provider failed mid-stream (${forwarded.errorType}): ${forwarded.message}; the request keeps running as workflow ${workflowId}`, 'api_error', forwarded.errorType));
        raw.end();
        return;
      }
      const result = await resultPromise;
      finishWith(result, forwarded.outcome === 'done');
      return;
    }
    finishWith(await resultPromise, false);
  } catch (err) {
    if (gone.signal.aborted) return;
    fail(err);
  }
}

