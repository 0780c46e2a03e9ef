/**
 * The doctor's checks, one function each. Every check answers PASS, FAIL (with what to do) or
 * SKIP (with why it does not apply); none throws and none outlives its timeout (check.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Env } from '../config/env';
import type { Config } from '../config/schema';
import { SEARCH_ATTRIBUTE_NAMES, TASK_QUEUE } from '../constants';
import { DEFAULT_MODEL_DIR, FETCH_MODEL_COMMAND } from '../consensus/embeddings';
import { IMPROVEMENT_SCHEDULE_ID } from '../improvement/constants';
import type { DatabaseClient } from '../memory/client';
import { errorMessage, parseDatabaseUrl, redactDatabaseUrl, redactSecrets } from '../memory/database-url';
import { LAYOUT, readMigrationList } from '../memory/migrate';
import { PROJECT_ROOT } from '../project-root';
import { ROUTING_POLICY_WORKFLOW_ID } from '../routing/constants';
import { CheckTimeout, fail, pass, skip, within, type Outcome } from './check';

const { TaskQueueType, WorkflowExecutionStatus } = temporal.api.enums.v1;

/** A poller seen this recently counts as a live worker (workers long-poll for up to ~70 s). */
export const LIVE_POLLER_MS = 120_000;

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}
const GRPC_NOT_FOUND = 5;

// ---------------------------------------------------------------------------------------------
// Temporal

export function temporalAdvice(env: Env): string {
  return `start Temporal (e.g. \`temporal server start-dev\`) or point TEMPORAL_ADDRESS at it (now ${env.TEMPORAL_ADDRESS}); with Temporal Cloud set TEMPORAL_API_KEY or the TEMPORAL_TLS_* files`;
}

export async function checkNamespace(connection: Connection, env: Env): Promise<Outcome> {
  try {
    const ns = await connection.workflowService.describeNamespace({ namespace: env.TEMPORAL_NAMESPACE });
    const state = ns.namespaceInfo?.state === temporal.api.enums.v1.NamespaceState.NAMESPACE_STATE_REGISTERED ? 'registered' : `state ${ns.namespaceInfo?.state ?? 'unknown'}`;
    return pass(`namespace "${env.TEMPORAL_NAMESPACE}" ${state}`);
  } catch (err) {
    if (grpcCode(err) === GRPC_NOT_FOUND) {
      return fail(`namespace "${env.TEMPORAL_NAMESPACE}" does not exist`, `create it (\`temporal operator namespace create --namespace ${env.TEMPORAL_NAMESPACE}\`) or set TEMPORAL_NAMESPACE to an existing one`);
    }
    throw err;
  }
}

export async function checkSearchAttributes(connection: Connection, env: Env): Promise<Outcome> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace: env.TEMPORAL_NAMESPACE });
  const custom = listed.customAttributes ?? {};
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in custom));
  const wrongType = SEARCH_ATTRIBUTE_NAMES.filter((n) => n in custom && custom[n] !== keyword);
  if (missing.length === 0 && wrongType.length === 0) return pass(`${SEARCH_ATTRIBUTE_NAMES.join(', ')} (Keyword) present in "${env.TEMPORAL_NAMESPACE}"`);
  const parts = [missing.length > 0 ? `missing: ${missing.join(', ')}` : '', wrongType.length > 0 ? `not Keyword: ${wrongType.join(', ')}` : ''].filter(Boolean);
  return fail(
    `${parts.join('; ')} in namespace "${env.TEMPORAL_NAMESPACE}"`,
    `start a worker once (\`npm run worker\` registers them), or add them: ${missing.map((n) => `\`temporal operator search-attribute create --namespace ${env.TEMPORAL_NAMESPACE} --name ${n} --type Keyword\``).join(' ') || 'recreate them as Keyword'}`,
  );
}

export async function checkWorkerPolling(connection: Connection, env: Env, now: () => number = Date.now): Promise<Outcome> {
  const live = async (taskQueueType: number) => {
    const d = await connection.workflowService.describeTaskQueue({ namespace: env.TEMPORAL_NAMESPACE, taskQueue: { name: TASK_QUEUE }, taskQueueType });
    return (d.pollers ?? []).filter((p) => {
      const seconds = p.lastAccessTime?.seconds;
      return seconds !== undefined && seconds !== null && now() - Number(seconds) * 1000 <= LIVE_POLLER_MS;
    });
  };
  const [workflowPollers, activityPollers] = await Promise.all([live(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW), live(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)]);
  const advice = `start a worker (\`npm run worker\`) on the same TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (${env.TEMPORAL_ADDRESS}, ${env.TEMPORAL_NAMESPACE})`;
  if (workflowPollers.length === 0 && activityPollers.length === 0) return fail(`no worker polled task queue "${TASK_QUEUE}" in the last ${LIVE_POLLER_MS / 1000} s`, advice);
  if (workflowPollers.length === 0 || activityPollers.length === 0) {
    return fail(`task queue "${TASK_QUEUE}": ${workflowPollers.length} workflow poller(s), ${activityPollers.length} activity poller(s)`, `${advice}; a worker must run both workflows and activities`);
  }
  const identities = [...new Set(workflowPollers.map((p) => p.identity ?? '?'))];
  return pass(`task queue "${TASK_QUEUE}": ${identities.length} worker(s) polling (${identities.slice(0, 3).join(', ')}${identities.length > 3 ? ', ...' : ''})`);
}

export async function checkImprovementSchedule(connection: Connection, env: Env, config: Config): Promise<Outcome> {
  if (!config.improvement.enable) return skip('improvement.enable is false in the configuration (the schedule stays paused)');
  try {
    const d = await connection.workflowService.describeSchedule({ namespace: env.TEMPORAL_NAMESPACE, scheduleId: IMPROVEMENT_SCHEDULE_ID });
    const paused = d.schedule?.state?.paused === true;
    if (paused) {
      return fail(`schedule "${IMPROVEMENT_SCHEDULE_ID}" is paused${d.schedule?.state?.notes ? ` (${d.schedule.state.notes})` : ''}`, '`npm run cli -- improvement schedule resume`, or restart a worker with improvement.enable: true (it updates the schedule)');
    }
    const next = d.info?.futureActionTimes?.[0]?.seconds;
    return pass(`schedule "${IMPROVEMENT_SCHEDULE_ID}" active${next !== undefined && next !== null ? `, next run ${new Date(Number(next) * 1000).toISOString()}` : ''}`);
  } catch (err) {
    if (grpcCode(err) === GRPC_NOT_FOUND) return fail(`schedule "${IMPROVEMENT_SCHEDULE_ID}" does not exist`, 'start a worker (`npm run worker`): it creates the schedule');
    throw err;
  }
}

export async function checkRoutingPolicyWorkflow(connection: Connection, env: Env): Promise<Outcome> {
  const advice = 'start a worker (`npm run worker`): the first one starts the routing-policy workflow; `npm run cli -- routing show` starts it too';
  try {
    const d = await connection.workflowService.describeWorkflowExecution({ namespace: env.TEMPORAL_NAMESPACE, execution: { workflowId: ROUTING_POLICY_WORKFLOW_ID } });
    const status = d.workflowExecutionInfo?.status;
    if (status === WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) return pass(`workflow "${ROUTING_POLICY_WORKFLOW_ID}" running (run ${d.workflowExecutionInfo?.execution?.runId ?? '?'})`);
    const name = status === undefined || status === null ? 'unknown' : (WorkflowExecutionStatus[status] ?? String(status)).replace('WORKFLOW_EXECUTION_STATUS_', '').toLowerCase();
    return fail(`workflow "${ROUTING_POLICY_WORKFLOW_ID}" is ${name}, not running`, advice);
  } catch (err) {
    if (grpcCode(err) === GRPC_NOT_FOUND) return fail(`workflow "${ROUTING_POLICY_WORKFLOW_ID}" has never run in "${env.TEMPORAL_NAMESPACE}"`, advice);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Database

export const MIGRATE_ADVICE = 'apply the migrations: `npm run db:migrate` (a worker applies them at start too)';

/** Reachable, and every migration folder recorded as applied in `_prisma_migrations`. */
export async function checkDatabase(databaseUrl: string, openClient: (url: string) => DatabaseClient, timeoutMs: number): Promise<Outcome> {
  const target = parseDatabaseUrl(databaseUrl);
  const where = redactDatabaseUrl(databaseUrl);
  // Opening a SQLite file that is not there would create an empty one: say so instead.
  if (target.provider === 'sqlite' && target.filePath !== ':memory:' && !existsSync(target.filePath)) {
    return fail(`${where}: the SQLite file ${target.filePath} does not exist`, MIGRATE_ADVICE);
  }
  const expected = readMigrationList(LAYOUT[target.provider].migrationsDir).migrationDirectories.map((m) => m.path);
  const db = openClient(databaseUrl);
  try {
    try {
      await within(timeoutMs, db.$queryRawUnsafe('SELECT 1'));
    } catch (err) {
      const reason = err instanceof CheckTimeout ? err.message : redactSecrets(errorMessage(err), databaseUrl);
      return fail(`${where} (${target.provider}) is not reachable: ${reason}`, `check DATABASE_URL (host, port, credentials) and that the database server runs`);
    }
    const tableQuery =
      target.provider === 'sqlite' ? "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'" : "SELECT to_regclass('_prisma_migrations')::text AS t";
    const table = await within(timeoutMs, db.$queryRawUnsafe<{ t: string | null }[]>(tableQuery));
    if (!table[0]?.t) return fail(`${where} (${target.provider}) is reachable but has no migrations applied (no _prisma_migrations table)`, MIGRATE_ADVICE);
    const applied = await within(timeoutMs, db.$queryRawUnsafe<{ migration_name: string }[]>('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL'));
    const done = new Set(applied.map((r) => r.migration_name));
    const pending = expected.filter((name) => !done.has(name));
    const unknown = [...done].filter((name) => !expected.includes(name));
    if (pending.length > 0) return fail(`${where} (${target.provider}): ${pending.length} of ${expected.length} migration(s) not applied (${pending.join(', ')})`, MIGRATE_ADVICE);
    return pass(`${where} (${target.provider}): all ${expected.length} migrations applied${unknown.length > 0 ? `; ${unknown.length} applied migration(s) this checkout does not know (a newer version wrote them)` : ''}`);
  } finally {
    void db.$disconnect().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Embedding model

/** The SHA-256 sums `scripts/fetch-model.sh` checks, read from the script (one source of truth). */
export function expectedModelSums(script = join(PROJECT_ROOT, 'scripts', 'fetch-model.sh')): { model: string; tokenizer: string } | null {
  if (!existsSync(script)) return null;
  const text = readFileSync(script, 'utf8');
  const model = /^MODEL_SHA256=([0-9a-f]{64})/m.exec(text)?.[1];
  const tokenizer = /^TOKENIZER_SHA256=([0-9a-f]{64})/m.exec(text)?.[1];
  return model && tokenizer ? { model, tokenizer } : null;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** Where consensus uses embeddings: the similarity strategy as default or for a task type. */
export function similarityInUse(config: Config): string[] {
  const uses: string[] = [];
  if (config.consensus.default_strategy === 'similarity') uses.push('consensus.default_strategy');
  for (const [task, strategy] of Object.entries(config.consensus.task_types)) if (strategy === 'similarity') uses.push(`consensus.task_types.${task}`);
  return uses;
}

export async function checkEmbeddingModel(config: Config): Promise<Outcome> {
  const configured = config.consensus.strategies.similarity?.model_path;
  const dir = configured === undefined ? DEFAULT_MODEL_DIR : resolve(configured);
  const files = { model: join(dir, 'model.onnx'), tokenizer: join(dir, 'tokenizer.json') };
  const missing = Object.values(files).filter((f) => !existsSync(f));
  const uses = similarityInUse(config);
  const advice = configured === undefined ? `fetch it: \`${FETCH_MODEL_COMMAND}\`` : `put model.onnx and tokenizer.json in ${dir} (consensus.strategies.similarity.model_path), or remove model_path and run \`${FETCH_MODEL_COMMAND}\``;
  if (missing.length > 0) {
    const what = `embedding model missing: ${missing.join(', ')}`;
    if (uses.length === 0) return skip(`${what}; no configured task type uses the similarity strategy (a request asking for it would fail: ${advice})`);
    return fail(`${what} (used by ${uses.join(', ')})`, advice);
  }
  if (configured !== undefined) return pass(`model.onnx and tokenizer.json present in ${dir} (your own model: no checksum to compare)`);
  const sums = expectedModelSums();
  if (sums === null) return pass(`model.onnx and tokenizer.json present in ${dir} (scripts/fetch-model.sh not found: checksums not compared)`);
  const [model, tokenizer] = await Promise.all([sha256File(files.model), sha256File(files.tokenizer)]);
  const bad = [model !== sums.model ? `model.onnx sha256 ${model.slice(0, 12)}... (expected ${sums.model.slice(0, 12)}...)` : '', tokenizer !== sums.tokenizer ? `tokenizer.json sha256 ${tokenizer.slice(0, 12)}... (expected ${sums.tokenizer.slice(0, 12)}...)` : ''].filter(Boolean);
  if (bad.length > 0) return fail(`embedding model in ${dir} does not match its checksum: ${bad.join('; ')}`, `delete ${dir} and fetch it again: \`${FETCH_MODEL_COMMAND}\``);
  return pass(`all-MiniLM-L6-v2 in ${dir}, SHA-256 of model.onnx and tokenizer.json match scripts/fetch-model.sh`);
}
