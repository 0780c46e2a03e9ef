/**
 * `npm run cli -- doctor [--json]` and `framework.diagnose()`: the connection tests. Each check
 * prints PASS, FAIL with what to do, or SKIP with why it does not apply; `ok` is true when none
 * failed. Every check has a timeout (default 5 s), so a service that is down makes its check FAIL
 * quickly instead of hanging the doctor; checks that need Temporal are SKIPped when it is down.
 */
import type { Connection } from '@temporalio/client';
import type { Env } from '../config/env';
import type { Config } from '../config/schema';
import { createPrismaClient, type DatabaseClient } from '../memory/client';
import { loadPayloadKeyring } from '../privacy/payload-keys';
import { buildConnectors } from '../providers/registry';
import { dirname, resolve } from 'node:path';
import { createLogger } from '../logger';
import { loadPlugins } from '../plugins/load';
import { fail, messageOf, pass, runCheck, skip, within, type CheckResult, type DoctorReport, type Outcome } from './check';
import {
  checkDatabase,
  checkEmbeddingModel,
  checkImprovementSchedule,
  checkNamespace,
  checkRoutingPolicyWorkflow,
  checkSearchAttributes,
  checkWorkerPolling,
  MIGRATE_ADVICE,
  temporalAdvice,
} from './checks';

export type { CheckResult, CheckStatus, DoctorReport } from './check';

export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

export interface DoctorOptions {
  env: Env;
  config: Config;
  /** Provider API keys are read from here (default process.env). */
  secrets?: NodeJS.ProcessEnv;
  /** Per check (default 5000 ms). */
  timeoutMs?: number;
  /** Injected for tests. */
  openDatabase?: (url: string) => DatabaseClient;
  now?: () => Date;
  /** Where plugins.modules and the plugins/ folder are looked up (default: the folder of env.CONFIG_PATH). */
  configDir?: string;
}

async function providerChecks(options: DoctorOptions, timeoutMs: number): Promise<CheckResult[]> {
  const { config, env } = options;
  const emulatorUrl = env.EMULATOR_URL ?? `http://${config.emulator.host}:${config.emulator.port}`;
  const started = Date.now();
  // Plugins first, as a worker loads them: their provider kinds are built by their connectors.
  let plugins: Awaited<ReturnType<typeof loadPlugins>>;
  try {
    plugins = await loadPlugins({ config, configDir: options.configDir ?? dirname(resolve(env.CONFIG_PATH)), logger: createLogger('silent', 'doctor') });
  } catch (err) {
    return [{ id: 'plugins', title: 'Plugins', status: 'FAIL', detail: messageOf(err), advice: 'fix or remove the plugin named (config.yaml plugins.modules, the plugins/ folder); `npm run cli -- plugins` shows the same', durationMs: Date.now() - started }];
  }
  const pluginCheck: CheckResult[] =
    plugins.plugins.length === 0 ? [] : [{ id: 'plugins', title: 'Plugins', status: 'PASS', detail: `loaded and set up: ${plugins.plugins.map((p) => `${p.name}@${p.version}`).join(', ')}`, advice: null, durationMs: Date.now() - started }];
  try {
    return [...pluginCheck, ...(await connectorChecks(options, timeoutMs, plugins.connectors, emulatorUrl, started))];
  } finally {
    await plugins.close();
  }
}

async function connectorChecks(options: DoctorOptions, timeoutMs: number, pluginConnectors: Awaited<ReturnType<typeof loadPlugins>>['connectors'], emulatorUrl: string, started: number): Promise<CheckResult[]> {
  const { config } = options;
  const secrets = options.secrets ?? process.env;
  let built: ReturnType<typeof buildConnectors>;
  try {
    built = buildConnectors({ config, env: secrets, emulatorUrl, pluginConnectors });
  } catch (err) {
    return [{ id: 'providers', title: 'Providers configured', status: 'FAIL', detail: messageOf(err), advice: 'set the API key variables named in config.yaml (models.<name>.api_key_env), or emulator.mode: auto', durationMs: Date.now() - started }];
  }
  if (built.connectors.size === 0) return [{ id: 'providers', title: 'Providers configured', status: 'FAIL', detail: 'no provider is enabled in config.yaml', advice: 'enable at least one provider under models:', durationMs: 0 }];
  return Promise.all(
    [...built.connectors].map(([name, connector]) => {
      const emulated = built.emulated.includes(name);
      const provider = config.models[name]!;
      return runCheck(`provider.${name}`, `Provider ${name} (${connector.kind}${emulated ? ', emulated' : ''})`, timeoutMs, `check ${provider.api_key_env ?? 'its API key'} and models.${name}.base_url`, async (): Promise<Outcome> => {
        const ok = await connector.validateConnection();
        if (emulated) {
          const why = `emulated: answered by the local provider emulator, not the real ${connector.kind} API (${provider.api_key_env ?? 'no api_key_env'} unset, emulator.mode ${config.emulator.mode})`;
          return ok ? pass(`${why}; the emulator at ${emulatorUrl} answers`) : skip(`${why}; no emulator answers at ${emulatorUrl} (a worker starts one in its process; set EMULATOR_URL to check a standalone one)`);
        }
        if (ok) return pass(`authenticated model list call to ${provider.base_url ?? connector.kind} succeeded`);
        return fail(`the authenticated model list call to ${provider.base_url ?? connector.kind} failed (bad key, no network, or the endpoint is down)`, `check ${provider.api_key_env ?? 'the API key'} and models.${name}.base_url; the endpoint must answer GET models`);
      });
    }),
  );
}

async function redisCheck(env: Env, timeoutMs: number): Promise<CheckResult> {
  return runCheck('redis', 'Redis (response cache)', timeoutMs, 'start Redis or fix REDIS_URL (unset it to keep the response cache in the database)', async () => {
    if (!env.REDIS_URL) return skip('REDIS_URL is not set: the response cache lives in the database');
    const { createClient } = await import('redis');
    const client = createClient({ url: env.REDIS_URL, disableOfflineQueue: true, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
    let lastError: string | null = null;
    client.on('error', (e: unknown) => {
      lastError = messageOf(e);
    });
    try {
      await within(timeoutMs, client.connect());
      const pong = await within(timeoutMs, client.ping());
      return pass(`PING answered ${pong}`);
    } catch (err) {
      return fail(`Redis did not answer: ${lastError ?? messageOf(err)}`, 'start Redis or fix REDIS_URL (unset it to keep the response cache in the database)');
    } finally {
      client.destroy();
    }
  });
}

function payloadKeysCheck(env: Env): Promise<CheckResult> {
  return runCheck('payload-keys', 'Payload encryption keys', 1000, 'set PAYLOAD_KEYS (`npm run cli -- payload-keys new` makes an entry) or PAYLOAD_KEYS_FILE; every worker, client and codec server needs the same keys', () => {
    if (env.PAYLOAD_ENCRYPTION === 'off') return Promise.resolve(skip('PAYLOAD_ENCRYPTION=off: histories hold plain JSON (prompts and answers readable in Temporal)'));
    const ring = loadPayloadKeyring(env);
    if (ring === null) return Promise.resolve(skip('payload encryption is off'));
    const ids = ring.keys.map((k) => k.id);
    const generated = ring.source.startsWith('generated:') ? ' (a generated development key: set PAYLOAD_KEYS in production)' : '';
    return Promise.resolve(pass(`${ids.length} key(s) from ${ring.source}, encrypting with "${ids[0]}"${ids.length > 1 ? `, also decrypting ${ids.slice(1).join(', ')}` : ''}${generated}`));
  });
}

/** Run every check; never throws. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { env, config } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const openDatabase = options.openDatabase ?? ((url: string) => createPrismaClient(url, { maxConnections: 1 }));

  // Temporal first: the checks after it share its connection.
  const temporalClient = await import('@temporalio/client');
  const { clientConnectionOptions } = await import('../temporal/connection');
  let connection: Connection | null = null;
  const temporalCheck = await runCheck('temporal.connection', 'Temporal reachable', timeoutMs, temporalAdvice(env), async () => {
    connection = await temporalClient.Connection.connect({ ...clientConnectionOptions(env), connectTimeout: timeoutMs });
    const info = await connection.workflowService.getSystemInfo({});
    return pass(`${env.TEMPORAL_ADDRESS} answers (server ${info.serverVersion || 'version unknown'})`);
  });
  const conn = connection as Connection | null;
  const temporalDown = skip(`Temporal at ${env.TEMPORAL_ADDRESS} is not reachable (see above)`);
  const onTemporal = (id: string, title: string, advice: string, body: (c: Connection) => Promise<Outcome>) =>
    conn === null || temporalCheck.status !== 'PASS' ? Promise.resolve<CheckResult>({ id, title, ...temporalDown, durationMs: 0 }) : runCheck(id, title, timeoutMs, advice, () => body(conn));

  try {
    const results = await Promise.all([
      onTemporal('temporal.namespace', `Namespace ${env.TEMPORAL_NAMESPACE}`, 'check TEMPORAL_NAMESPACE', (c) => checkNamespace(c, env)),
      onTemporal('temporal.search-attributes', 'Search attributes', 'start a worker once (`npm run worker` registers them)', (c) => checkSearchAttributes(c, env)),
      onTemporal('temporal.worker', 'A worker polls the task queue', 'start a worker (`npm run worker`)', (c) => checkWorkerPolling(c, env)),
      onTemporal('temporal.improvement-schedule', 'Improvement schedule', 'start a worker (`npm run worker`): it creates the schedule', (c) => checkImprovementSchedule(c, env, config)),
      onTemporal('temporal.routing-policy', 'Routing-policy workflow running', 'start a worker (`npm run worker`)', (c) => checkRoutingPolicyWorkflow(c, env)),
      runCheck('database', 'Database reachable, migrations applied', timeoutMs * 2, `check DATABASE_URL and that the database runs; ${MIGRATE_ADVICE}`, () => checkDatabase(env.DATABASE_URL, openDatabase, timeoutMs)),
      providerChecks(options, timeoutMs),
      runCheck('embedding-model', 'Embedding model (similarity consensus)', Math.max(timeoutMs, 30_000), 'run `bash scripts/fetch-model.sh`', () => checkEmbeddingModel(config)),
      redisCheck(env, timeoutMs),
      payloadKeysCheck(env),
    ]);
    const checks = [temporalCheck, ...results.flat()];
    return { ok: checks.every((c) => c.status !== 'FAIL'), at: (options.now?.() ?? new Date()).toISOString(), checks };
  } finally {
    await conn?.close().catch(() => undefined);
  }
}

/** The report for people: one line per check, the advice under each FAIL, a summary line. */
export function formatDoctorReport(report: DoctorReport, out: (line: string) => void): void {
  for (const c of report.checks) {
    out(`${c.status.padEnd(4)}  ${c.title}: ${c.detail}`);
    if (c.status === 'FAIL' && c.advice) out(`      -> ${c.advice}`);
  }
  const count = (s: string) => report.checks.filter((c) => c.status === s).length;
  out('');
  out(`${report.ok ? 'all checks passed' : 'some checks FAILED'}: ${count('PASS')} pass, ${count('FAIL')} fail, ${count('SKIP')} skip`);
}
