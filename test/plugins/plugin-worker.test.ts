/**
 * Plugins as users run them: `npm run worker` (the compiled worker on plain node) with a config
 * folder holding a plugin in its plugins/ folder (CommonJS), a plugin installed as an npm package
 * (node_modules, named in plugins.modules) and the example TypeScript plugin by path. All three are
 * listed in the worker's start log and by `npm run cli -- plugins`, and used: requests routed to
 * each plugin's provider kind answer through it (the HTTP one through a local HTTP server), a
 * plugin consensus strategy picks the answer in the consensus activity, a plugin routing strategy
 * orders a route, and a plugin hook sees the requests complete. A plugin whose setup throws stops
 * the worker with its name and the cause, before it polls.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { loadEnv } from '../../src/config/env';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { ensureNamespace, spawnNpmWorker, waitFor, type SpawnedWorker } from '../helpers/spawned-worker';
import { freePort } from '../../src/free-port';

const run = promisify(execFile);
const stamp = Date.now().toString(36);
const dir = mkdtempSync(join(tmpdir(), 'orch-plugin-worker-'));
const workers: SpawnedWorker[] = [];
const hookLog = join(dir, 'hook-events.jsonl');
let http: Server;
let httpUrl = '';
const httpPrompts: string[] = [];


/** plugins/folder-echo.cjs: a connector kind answering without any network. */
const FOLDER_PLUGIN = `
module.exports = {
  name: 'folder-echo',
  version: '0.1.0',
  connectors: {
    echo_local: (settings) => ({
      async generate(request) { return { content: '[folder-echo] ' + request.prompt.toUpperCase(), tokensIn: 4, tokensOut: 6 }; },
      async validateConnection() { return true; },
      getSupportedModels() { return [settings.defaultModel]; },
    }),
  },
};
`;

/** node_modules/orchestrator-plugin-shouty: a connector kind, a consensus strategy, a routing strategy and a hook, with settings. */
const PACKAGE_PLUGIN = `
const { appendFileSync } = require('node:fs');
module.exports = {
  name: 'shouty',
  version: '1.2.0',
  configSchema: {
    safeParse(input) {
      if (typeof input.hook_log !== 'string') return { success: false, error: { issues: [{ path: ['hook_log'], message: 'expected a file path' }] } };
      return { success: true, data: { hook_log: input.hook_log, suffix: input.suffix ?? '!!!' } };
    },
  },
  setup({ config }) {
    return {
      connectors: {
        shouty: (settings) => ({
          async generate(request) { return { content: 'SHOUTY SAYS ' + request.prompt + config.suffix + ' (and a little more text to be longer)', tokensIn: 5, tokensOut: 12 }; },
          async validateConnection() { return true; },
          getSupportedModels() { return [settings.defaultModel]; },
        }),
      },
      consensusStrategies: {
        longest: {
          name: 'longest',
          findConsensus(responses) {
            let best = 0;
            responses.forEach((r, i) => { if (r.content.length > responses[best].content.length) best = i; });
            return { chosenIndex: best, confidence: 0.9, agreement: 0.5, dissenting: responses.map((_, i) => i).filter((i) => i !== best), thresholdMet: true };
          },
          calculateConfidence() { return 0.9; },
        },
      },
      routingStrategies: {
        reverse: { rank: ({ candidates }) => [...candidates].reverse() },
      },
      hooks: {
        'request.completed': (event) => appendFileSync(config.hook_log, JSON.stringify({ workflowId: event.workflowId, providers: event.providers }) + '\\n'),
      },
    };
  },
};
`;

function writeConfigFolder(name: string, extra: { brokenPlugin?: boolean } = {}): string {
  const folder = join(dir, name);
  mkdirSync(join(folder, 'plugins'), { recursive: true });
  mkdirSync(join(folder, 'node_modules', 'orchestrator-plugin-shouty'), { recursive: true });
  writeFileSync(join(folder, 'plugins', 'folder-echo.cjs'), FOLDER_PLUGIN);
  if (extra.brokenPlugin) writeFileSync(join(folder, 'plugins', 'zz-broken.cjs'), "module.exports = { name: 'broken', version: '1.0.0', setup() { throw new Error('cannot reach the license server'); } };");
  writeFileSync(join(folder, 'node_modules', 'orchestrator-plugin-shouty', 'package.json'), JSON.stringify({ name: 'orchestrator-plugin-shouty', version: '1.2.0', main: 'index.js' }));
  writeFileSync(join(folder, 'node_modules', 'orchestrator-plugin-shouty', 'index.js'), PACKAGE_PLUGIN);
  const config = parse(readFileSync(join(REPO_ROOT, 'config.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  config['plugins'] = {
    modules: ['orchestrator-plugin-shouty', join(REPO_ROOT, 'examples', 'plugins', 'http-connector')],
    shouty: { hook_log: hookLog },
    'http-connector': { timeout_ms: 10_000 },
  };
  config['models'] = {
    ...config['models'],
    'folder-echo': { kind: 'echo_local', default_model: 'echo-local-1' },
    shouty: { kind: 'shouty', default_model: 'shouty-1' },
    custom: { kind: 'http_api', base_url: httpUrl, default_model: 'custom-model-v1' },
  };
  config['pricing'] = { ...config['pricing'], 'echo-local-1': { input: 1, output: 1 }, 'shouty-1': { input: 2, output: 2 }, 'custom-model-v1': { input: 10, output: 20 } };
  const routing = config['routing']!;
  routing['rules'] = [
    ...(routing['rules'] as unknown[]),
    { id: 'plugin-http', task_type: 'plugin_http', providers: ['custom'] },
    { id: 'plugin-echo', task_type: 'plugin_echo', providers: ['folder-echo'] },
    { id: 'plugin-consensus', task_type: 'plugin_consensus', providers: ['folder-echo', 'shouty'], require_consensus: true, min_providers: 2 },
    { id: 'plugin-ranked', task_type: 'plugin_ranked', providers: ['openai', 'folder-echo'], min_providers: 1 },
  ];
  routing['custom_strategies'] = { plugin_ranked: 'reverse' };
  config['consensus'] = { ...config['consensus'], task_types: { ...(config['consensus']!['task_types'] as object), plugin_consensus: 'longest' } };
  config['emulator'] = { ...config['emulator'], port: 0 };
  writeFileSync(join(folder, 'config.yaml'), stringify(config));
  return join(folder, 'config.yaml');
}

async function workerEnv(configPath: string, db: string): Promise<NodeJS.ProcessEnv> {
  return { CONFIG_PATH: configPath, DATABASE_URL: `file:${join(dir, db)}`, METRICS_PORT: String(await freePort()), METRICS_SDK_PORT: 'off' };
}

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      if (req.url === '/health') return void res.writeHead(200).end();
      const body = JSON.parse(raw) as { prompt: string; model: string };
      httpPrompts.push(body.prompt);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: `HTTP API answer to: ${body.prompt}`, prompt_tokens: 100, completion_tokens: 50, model: body.model }));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  httpUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const w of workers) w.kill();
  await new Promise<void>((r) => http.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('plugins in npm run worker', () => {
  it('lists the folder, package and path plugins (start log and `cli plugins`), and requests are served through them', async () => {
    const configPath = writeConfigFolder('ok');
    const namespace = `plugins-${stamp}`;
    await ensureNamespace(namespace);
    const worker = await spawnNpmWorker(namespace, await workerEnv(configPath, 'ok.db'));
    workers.push(worker);
    const started = worker.logLines().find((l) => l['msg'] === 'worker started')!;
    expect(started['plugins']).toEqual(['shouty@1.2.0', 'http-connector@1.0.0', 'folder-echo@0.1.0']);
    const loaded = worker.logLines().find((l) => l['msg'] === 'plugins loaded')!;
    expect(loaded['plugins']).toMatchObject([
      { name: 'shouty', origin: 'config', source: join(dir, 'ok', 'node_modules', 'orchestrator-plugin-shouty', 'index.js'), provides: { connectors: ['shouty'], consensusStrategies: ['longest'], routingStrategies: ['reverse'], hooks: ['request.completed'] } },
      { name: 'http-connector', origin: 'config', source: join(REPO_ROOT, 'examples', 'plugins', 'http-connector', 'index.ts'), provides: { connectors: ['http_api'] } },
      { name: 'folder-echo', origin: 'folder', source: join(dir, 'ok', 'plugins', 'folder-echo.cjs'), provides: { connectors: ['echo_local'] } },
    ]);

    // The CLI lists the same plugins from the same config.
    const cli = await run('npm', ['run', '--silent', 'cli', '--', 'plugins'], { cwd: REPO_ROOT, env: { ...process.env, CONFIG_PATH: configPath } });
    expect(cli.stdout).toMatch(/^shouty@1\.2\.0 {2}\(config: .*orchestrator-plugin-shouty\/index\.js\)$/m);
    expect(cli.stdout).toMatch(/^ {4}provider kinds +shouty$/m);
    expect(cli.stdout).toMatch(/^ {4}consensus strategies +longest$/m);
    expect(cli.stdout).toMatch(/^http-connector@1\.0\.0 {2}\(config: .*examples\/plugins\/http-connector\/index\.ts\)$/m);
    expect(cli.stdout).toMatch(/^folder-echo@0\.1\.0 {2}\(folder: .*plugins\/folder-echo\.cjs\)$/m);
    const json = await run('npm', ['run', '--silent', 'cli', '--', 'plugins', '--json'], { cwd: REPO_ROOT, env: { ...process.env, CONFIG_PATH: configPath } });
    expect((JSON.parse(json.stdout) as { name: string }[]).map((p) => p.name)).toEqual(['shouty', 'http-connector', 'folder-echo']);

    const client = await OrchestratorClient.connect({ env: loadEnv({ TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), TEMPORAL_NAMESPACE: namespace }) });
    try {
      // Routed by a rule to the TypeScript plugin's provider kind: answered by the HTTP server, priced from config.
      const viaHttp = await client.processRequest({ prompt: 'What is a plugin?', taskType: 'plugin_http', userId: 'plugin-user', requestId: `plugin-http-${stamp}` });
      expect(viaHttp.response).toBe('HTTP API answer to: What is a plugin?');
      expect(viaHttp.metadata.providersUsed).toEqual(['custom']);
      expect(viaHttp.metadata.costUsd).toBeCloseTo((100 * 10 + 50 * 20) / 1e6, 9);
      expect(httpPrompts).toContain('What is a plugin?');

      // The folder plugin's kind.
      const viaFolder = await client.processRequest({ prompt: 'say hi', taskType: 'plugin_echo', userId: 'plugin-user', requestId: `plugin-echo-${stamp}` });
      expect(viaFolder.response).toBe('[folder-echo] SAY HI');

      // Two plugin providers, consensus by the package plugin's strategy (in the consensus activity).
      const agreed = await client.processRequest({ prompt: 'pick one', taskType: 'plugin_consensus', userId: 'plugin-user', requestId: `plugin-consensus-${stamp}` });
      expect(agreed.metadata.consensusStrategy).toBe('longest');
      expect(agreed.metadata.consensusApplied).toBe(true);
      expect(agreed.response).toBe('SHOUTY SAYS pick one!!! (and a little more text to be longer)');

      // The rule lists openai first; the plugin routing strategy reverses the route, so folder-echo answers.
      const ranked = await client.processRequest({ prompt: 'ranked', taskType: 'plugin_ranked', userId: 'plugin-user', requestId: `plugin-ranked-${stamp}` });
      expect(ranked.metadata.providersUsed).toEqual(['folder-echo']);

      // The plugin's hook saw each request complete (hooks run after the activity's result, so poll).
      const ids = [viaHttp, viaFolder, agreed, ranked].map((r) => r.metadata.workflowId);
      const events = await waitFor('the hook to see all four requests', 30_000, () => {
        if (!existsSync(hookLog)) return undefined;
        const seen = readFileSync(hookLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { workflowId: string });
        return ids.every((id) => seen.some((e) => e.workflowId === id)) ? seen : undefined;
      });
      expect(events.length).toBeGreaterThanOrEqual(4);
    } finally {
      await client.close();
    }
    await worker.stop();
  }, 360_000);

  it('a plugin whose setup throws stops the worker with its name and the cause, before it polls', async () => {
    const configPath = writeConfigFolder('broken', { brokenPlugin: true });
    const namespace = `plugins-broken-${stamp}`;
    await ensureNamespace(namespace);
    const err = await spawnNpmWorker(namespace, await workerEnv(configPath, 'broken.db')).then(
      (w) => {
        workers.push(w);
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err, 'the worker should not start').not.toBeNull();
    expect(err!.message).toContain('worker: plugin "broken": setup failed: cannot reach the license server');
    expect(err!.message).not.toContain('"msg":"worker started"');
    expect(err!.message).not.toContain('"msg":"plugins loaded"');

    // The CLI reports the same failure with exit code 1.
    const cli = await run('npm', ['run', '--silent', 'cli', '--', 'plugins'], { cwd: REPO_ROOT, env: { ...process.env, CONFIG_PATH: configPath } }).then(
      () => null,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(cli?.code).toBe(1);
    expect(cli?.stderr).toContain('PluginError: plugin "broken": setup failed: cannot reach the license server');
  }, 360_000);
});
