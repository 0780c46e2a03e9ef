/**
 * Errors as OpenAI's shape `{ error: { message, type, param, code } }` with the status a client
 * of the OpenAI SDKs expects: the typed errors of src/errors.ts map once, here.
 */
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { OrchestratorError } from '../errors';
import { openAiParam } from './openai';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null; workflow_id?: string };
}

export interface HttpError {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

/** An error the gateway itself raises with a status (auth, permission, deadline). */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly extra: { workflowId?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
  override get name(): string {
    return 'GatewayError';
  }
}

function body(message: string, type: string, param: string | null, code: string | null, workflowId?: string): OpenAiErrorBody {
  return { error: { message, type, param, code, ...(workflowId && { workflow_id: workflowId }) } };
}

/**
 * Seconds until a quota or budget period resets, from the `resetsAt` that QuotaExceeded and
 * BudgetExceeded carry (src/resilience/budget.ts computes it once); null when absent.
 */
export function retryAfterSeconds(details: Record<string, unknown>, now = new Date()): number | null {
  const resetsAt = typeof details['resetsAt'] === 'string' ? Date.parse(details['resetsAt']) : Number.NaN;
  return Number.isFinite(resetsAt) ? Math.max(1, Math.ceil((resetsAt - now.getTime()) / 1000)) : null;
}

/** Temporal (or its network) cannot be reached: 503. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    // gRPC status 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED (a call to the server that timed out).
    if (isGrpcServiceError(e) && [14, 4].includes(Number(e.code))) return true;
    if (e instanceof ServiceError && /unavailable|connect|ECONNREFUSED|transport/i.test(e.message)) return true;
    if (/ECONNREFUSED|failed to connect|transport error|Connection refused/i.test(e.message)) return true;
  }
  return false;
}

/** Every error that names a workflow also says so in the header the successful answers carry. */
export function toHttpError(err: unknown): HttpError {
  const e = httpErrorOf(err);
  const workflowId = e.body.error.workflow_id;
  return workflowId === undefined ? e : { ...e, headers: { 'x-orchestration-workflow-id': workflowId, ...e.headers } };
}

function httpErrorOf(err: unknown): HttpError {
  if (err instanceof GatewayError) {
    return { status: err.status, body: body(err.message, err.type, err.param, err.code, err.extra.workflowId), headers: err.extra.headers ?? {} };
  }
  if (err instanceof OrchestratorError) {
    const workflowId = typeof err.details['workflowId'] === 'string' ? err.details['workflowId'] : undefined;
    switch (err.code) {
      case 'InvalidRequest': {
        const issues = err.details['issues'] as { path: string }[] | undefined;
        const param = issues?.[0]?.path ? openAiParam(issues[0].path) : null;
        return { status: 400, body: body(err.message, 'invalid_request_error', param, 'invalid_request'), headers: {} };
      }
      case 'ModelProviderNotFound':
        return { status: 404, body: body(err.message, 'invalid_request_error', 'model', 'model_not_found'), headers: {} };
      case 'IdempotencyConflict':
        return { status: 409, body: body(err.message, 'invalid_request_error', 'orchestration.request_id', 'idempotency_conflict', workflowId), headers: {} };
      case 'QuotaExceeded':
      case 'BudgetExceeded': {
        const seconds = retryAfterSeconds(err.details);
        return {
          status: 429,
          body: body(err.message, 'insufficient_quota', null, err.code === 'QuotaExceeded' ? 'quota_exceeded' : 'budget_exceeded'),
          headers: seconds === null ? {} : { 'retry-after': String(seconds) },
        };
      }
      case 'InsufficientResponses':
      case 'ConsensusNotReached':
        return { status: 502, body: body(err.message, 'api_error', null, err.code === 'InsufficientResponses' ? 'insufficient_responses' : 'consensus_not_reached', workflowId), headers: {} };
      case 'ConsensusTimeout':
        return { status: 504, body: body(err.message, 'api_error', null, 'consensus_timeout', workflowId), headers: {} };
      case 'DatabaseConnectionError':
        return { status: 503, body: body(err.message, 'api_error', null, 'database_unavailable'), headers: {} };
      case 'ConfigError':
        return { status: 500, body: body(err.message, 'server_error', null, 'config_error'), headers: {} };
      case 'PluginError':
        return { status: 500, body: body(err.message, 'server_error', null, 'plugin_error'), headers: {} };
    }
  }
  if (isTemporalUnavailable(err)) {
    return { status: 503, body: body('Temporal is unreachable; nothing was started or the answer cannot be read now: retry with the same idempotency key', 'api_error', null, 'temporal_unavailable'), headers: {} };
  }
  return { status: 500, body: body('internal error', 'server_error', null, null), headers: {} };
}

/** A Fastify schema-validation failure (ajv) as a 400 naming the field. */
export function validationError(validation: { instancePath?: string; keyword?: string; params?: Record<string, unknown>; message?: string }[]): HttpError {
  const first = validation[0];
  const extra = typeof first?.params?.['additionalProperty'] === 'string' ? first.params['additionalProperty'] : null;
  const pointer = (first?.instancePath ?? '').split('/').filter(Boolean);
  const segments = extra ? [...pointer, extra] : pointer;
  const param = segments.length === 0 ? null : segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
  const what = extra ? `${param}: not supported by this gateway` : `${param ?? 'body'}: ${first?.message ?? 'invalid'}`;
  return { status: 400, body: body(`invalid request: ${what}`, 'invalid_request_error', param, 'invalid_request'), headers: {} };
}
