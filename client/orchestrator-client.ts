/**
 * The typed client SDK. Validates every request at the boundary (schema, and configuration
 * when given) before any workflow starts, derives the workflow id from the request id so a
 * resubmitted request attaches to the first run instead of running twice, and turns a failed
 * workflow back into the typed error it failed with.
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  WorkflowFailedError,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { loadEnv, type Env } from '../src/config/env';
import type { Config } from '../src/config/schema';
import { FEEDBACK_WORKFLOW_PREFIX, SearchAttributes, TASK_QUEUE, requestWorkflowId } from '../src/constants';
import { FeedbackInputSchema } from '../src/memory/repository';
import { IdempotencyConflict, InvalidRequest, isOrchestratorErrorCode, orchestratorErrorFrom, zodIssues } from '../src/errors';
import { fingerprintDifferences, parseFingerprint, requestFingerprint, type RequestFingerprint } from '../src/request-fingerprint';
import { configuredConsensusStrategies, validateRequest } from '../src/routing/planner';
import { clientConnectionOptions, webUiWorkflowUrl } from '../src/temporal/connection';
import { OrchestrateRequestSchema, type OrchestrateRequest, type OrchestrationResult } from '../src/types';
import type { orchestrateRequest, recordFeedbackWorkflow } from '../workflows';
import { dataConverterFor } from '../src/temporal/data-converter';
import { tracingFor } from '../src/tracing/tracing';
import { eraseUser, type EraseUserOptions, type EraseUserResult } from './erasure';

export interface OrchestratorClientOptions {
  client: Client;
  /** When given, requests are also checked against it (providers, models, minProviders). */
  config?: Config;
  taskQueue?: string;
  /** Used for Web UI links. */
  env?: Env;
  /**
   * Consensus strategies the workers have besides those config.yaml declares (a plugin's, one
   * registered in code), so `validate` accepts them; the gateway passes its plugins' strategies.
   */
  consensusStrategies?: readonly string[];
}

export interface StartOptions {
  /**
   * Ask the server to hand the first workflow task back with the start (eager workflow start):
   * only when this client is built on a worker's NativeConnection polling the task queue.
   */
  eager?: boolean;
}

export interface StartedRequest {
  workflowId: string;
  requestId: string;
  /** False when a workflow with this request id already existed and was reused. */
  started: boolean;
  /** The server handed the first workflow task to this client's worker with the start (eager start). */
  eagerlyStarted: boolean;
  handle: WorkflowHandle<typeof orchestrateRequest>;
}

export interface RequestSummary {
  workflowId: string;
  status: string;
  taskType: string | undefined;
  userId: string | undefined;
  complexity: string | undefined;
  requestStatus: string | undefined;
  startTime: Date;
  closeTime: Date | undefined;
}

export class OrchestratorClient {
  readonly client: Client;
  private readonly config: Config | undefined;
  private readonly taskQueue: string;
  private readonly env: Env;
  private readonly extraStrategies: readonly string[];
  private ownedConnection: Connection | null = null;

  constructor(options: OrchestratorClientOptions) {
    this.client = options.client;
    this.config = options.config;
    this.extraStrategies = options.consensusStrategies ?? [];
    this.taskQueue = options.taskQueue ?? TASK_QUEUE;
    this.env = options.env ?? loadEnv();
  }

  /** Connect using TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TLS / API key from the environment. */
  static async connect(options: { env?: Env; config?: Config; taskQueue?: string } = {}): Promise<OrchestratorClient> {
    const env = options.env ?? loadEnv();
    const dataConverter = dataConverterFor(env);
    const connection = await Connection.connect(clientConnectionOptions(env));
    // With OTEL_EXPORTER_OTLP_ENDPOINT set, each request's trace starts here (StartWorkflow).
    const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter, interceptors: tracingFor(env).clientInterceptors() });
    const oc = new OrchestratorClient({ client, env, ...(options.config && { config: options.config }), ...(options.taskQueue && { taskQueue: options.taskQueue }) });
    oc.ownedConnection = connection;
    return oc;
  }

  /** Validate without starting anything. Throws InvalidRequest / ModelProviderNotFound. */
  validate(input: unknown): OrchestrateRequest {
    // The worker's planning checks against its registry; a client knows the strategies its config declares.
    if (this.config) return validateRequest(this.config, input, { consensusStrategies: [...configuredConsensusStrategies(this.config), ...this.extraStrategies] });
    const parsed = OrchestrateRequestSchema.safeParse(input);
    if (!parsed.success) {
      const issues = zodIssues(parsed.error);
      throw new InvalidRequest(`invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    return parsed.data;
  }

  /**
   * Start a request workflow, or attach to the one already started for this request id (running
   * or closed: a request id never runs twice). A resubmitted request id with a different request
   * (prompt, user, settings) is refused with IdempotencyConflict naming the fields, instead of
   * returning the earlier answer to a different request.
   */
  async start(input: OrchestrateRequest, options: StartOptions = {}): Promise<StartedRequest> {
    const request = this.validate(input);
    const requestId = request.requestId ?? randomUUID();
    const workflowId = requestWorkflowId(requestId);
    const args = { ...request, requestId };
    const fingerprint = requestFingerprint(args);
    try {
      const handle = await this.client.workflow.start<typeof orchestrateRequest>('orchestrateRequest', {
        taskQueue: this.taskQueue,
        workflowId,
        args: [args],
        // A duplicate, running or closed, fails the start; it is then compared and attached to below.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        memo: { [FINGERPRINT_MEMO]: fingerprint },
        typedSearchAttributes: [
          { key: SearchAttributes.taskType, value: request.taskType },
          { key: SearchAttributes.userId, value: request.userId },
          { key: SearchAttributes.requestStatus, value: 'running' },
        ],
        staticSummary: requestSummaryLine(request),
        ...(options.eager && { requestEagerStart: true }),
      });
      return { workflowId, requestId, started: true, eagerlyStarted: handle.eagerlyStarted, handle };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const stored = await this.fingerprintOf(workflowId);
      const fields = stored ? fingerprintDifferences(stored, fingerprint) : [];
      if (fields.length > 0) {
        throw new IdempotencyConflict(
          `request id "${requestId}" (workflow ${workflowId}) was already submitted with a different request: ${fields.join(', ')} differ; ` + 'its answer is not returned for a different request: use a new request id',
          { workflowId, requestId, fields },
        );
      }
      return { workflowId, requestId, started: false, eagerlyStarted: false, handle: this.client.workflow.getHandle<typeof orchestrateRequest>(workflowId) };
    }
  }

  /**
   * The request an existing workflow was started with: the fingerprint this client stores in the
   * memo, or, for a workflow another SDK started, computed from its first event's input.
   */
  private async fingerprintOf(workflowId: string): Promise<RequestFingerprint | null> {
    const handle = this.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const memo = parseFingerprint(description.memo?.[FINGERPRINT_MEMO]);
    if (memo) return memo;
    const history = await handle.fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    // Through the client's codec: the input is ciphertext when the other SDK encrypts too (clients/python).
    return payload ? requestFingerprint(await decodeOptionalSinglePayload(this.client.options.loadedDataConverter, payload)) : null;
  }

  /** Start and wait for the answer. Failures come back as the typed errors of src/errors. */
  async processRequest(input: OrchestrateRequest): Promise<OrchestrationResult> {
    const { workflowId } = await this.start(input);
    return this.getResult(workflowId);
  }

  async getResult(workflowId: string): Promise<OrchestrationResult> {
    try {
      return await this.client.workflow.getHandle<typeof orchestrateRequest>(workflowId).result();
    } catch (err) {
      throw translateFailure(err);
    }
  }

  async describe(workflowId: string): Promise<RequestSummary> {
    return summarize(await this.client.workflow.getHandle(workflowId).describe());
  }

  /** List request workflows; `query` is a Temporal visibility query, e.g. `TaskType = "code_generation"`. */
  async list(options: { query?: string; limit?: number } = {}): Promise<RequestSummary[]> {
    const base = `WorkflowType = "orchestrateRequest"`;
    const query = options.query ? `${base} AND (${options.query})` : base;
    const out: RequestSummary[] = [];
    for await (const info of this.client.workflow.list({ query })) {
      out.push(summarize(info));
      if (out.length >= (options.limit ?? 20)) break;
    }
    return out;
  }

  /**
   * Rate a finished request's answer (score in [0, 1]). Stored by a small workflow through the
   * worker; routing counts it as the answering provider's quality. InvalidRequest when the score
   * is out of range or the request is unknown or failed.
   */
  async submitFeedback(input: { workflowId: string; score: number; comment?: string; source?: string }): Promise<{ id: string; interactionId: string }> {
    const id = randomUUID();
    const parsed = FeedbackInputSchema.safeParse({ ...input, id });
    if (!parsed.success) {
      const issues = zodIssues(parsed.error);
      throw new InvalidRequest(`invalid feedback: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
    }
    try {
      return await this.client.workflow.execute<typeof recordFeedbackWorkflow>('recordFeedbackWorkflow', {
        taskQueue: this.taskQueue,
        workflowId: `${FEEDBACK_WORKFLOW_PREFIX}${id}`,
        args: [{ ...parsed.data, id }],
        staticSummary: `feedback ${parsed.data.score} on ${parsed.data.workflowId}`,
      });
    } catch (err) {
      throw translateFailure(err);
    }
  }

  /**
   * Erase everything stored for a user (right to erasure; client/erasure.ts): interactions,
   * provider calls, feedback, cache entries, embeddings, ledger details, API keys and the
   * Temporal histories of the user's requests. Reports counts per kind; a second call reports zeros.
   */
  async eraseUser(userId: string, options: EraseUserOptions = {}): Promise<EraseUserResult> {
    try {
      return await eraseUser({ client: this.client, taskQueue: this.taskQueue }, userId, options);
    } catch (err) {
      throw translateFailure(err);
    }
  }

  webUiUrl(workflowId: string): string {
    return webUiWorkflowUrl(this.env, workflowId);
  }

  async close(): Promise<void> {
    // Spans still buffered go out before a short-lived program (the CLI) exits.
    if (this.ownedConnection) await tracingFor(this.env).forceFlush().catch(() => undefined);
    await this.ownedConnection?.close();
    this.ownedConnection = null;
  }
}

/** Memo key of the request fingerprint (src/request-fingerprint.ts) on workflows this client starts. */
const FINGERPRINT_MEMO = 'requestFingerprint';

/** The Web UI's one-line summary of a request workflow: task type, user and providers. */
function requestSummaryLine(request: OrchestrateRequest): string {
  const providers = request.providers?.join(', ') ?? 'routed by policy';
  return `${request.taskType} for ${request.userId}: ${providers}${request.requireConsensus ? ' (consensus)' : ''}`;
}

function summarize(info: Pick<WorkflowExecutionInfo, 'workflowId' | 'status' | 'typedSearchAttributes' | 'startTime'> & { closeTime?: Date | undefined }): RequestSummary {
  const sa = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    status: info.status.name,
    taskType: sa.get(SearchAttributes.taskType),
    userId: sa.get(SearchAttributes.userId),
    complexity: sa.get(SearchAttributes.complexity),
    requestStatus: sa.get(SearchAttributes.requestStatus),
    startTime: info.startTime,
    closeTime: info.closeTime,
  };
}

/** A failed workflow becomes the typed error its failure names; anything else passes through. */
export function translateFailure(err: unknown): unknown {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    // Activity failures wrap the application failure one level down.
    while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
    if (cause instanceof ApplicationFailure && isOrchestratorErrorCode(cause.type)) {
      const details = (cause.details?.[0] ?? {}) as Record<string, unknown>;
      return orchestratorErrorFrom(cause.type, cause.message, details);
    }
  }
  return err;
}
