/**
 * `npm run worker` as users run it: GET /metrics on METRICS_PORT and the Temporal SDK's metrics on
 * METRICS_SDK_PORT (Runtime.install telemetry) after it served a request; with
 * framework.enable_metrics: false, neither port listens.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { loadEnv } from '../../src/config/env';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { ensureNamespace, spawnNpmWorker, type SpawnedWorker } from '../helpers/spawned-worker';
import { freePort } from '../../src/free-port';

const run = Date.now().toString(36);
const dir = mkdtempSync(join(tmpdir(), 'orch-metrics-process-'));
const workers: SpawnedWorker[] = [];


afterAll(async () => {
  for (const w of workers) w.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run worker: /metrics and the Temporal SDK metrics', () => {
  it('serves both after a request; the SDK exporter has task latencies and slots', async () => {
    const namespace = `metrics-process-${run}`;
    await ensureNamespace(namespace);
    const [port, sdkPort] = [await freePort(), await freePort()];
    const worker = await spawnNpmWorker(namespace, { DATABASE_URL: `file:${join(dir, 'on.db')}`, METRICS_PORT: String(port), METRICS_SDK_PORT: String(sdkPort) });
    workers.push(worker);
    const client = await OrchestratorClient.connect({ env: loadEnv({ TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), TEMPORAL_NAMESPACE: namespace }) });
    try {
      const result = await client.processRequest({ prompt: 'What is 9 + 9?', taskType: 'question_answering', userId: 'metrics-process-user', providers: ['openai'], requestId: `metrics-process-${run}` });
      expect(result.response).toMatch(/18/);
    } finally {
      await client.close();
    }
    const ours = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(ours).toMatch(/^orchestrator_requests_total\{[^}]*status="completed"[^}]*\} 1$/m);
    expect(ours).toMatch(/^orchestrator_provider_calls_total\{provider="openai",model="gpt-4o-mini",status="succeeded",error_type="none"\} 1$/m);
    expect(ours).toMatch(/^orchestrator_info\{name="AI Orchestration Framework",version="1.0.0"\} 1$/m);
    const sdk = await (await fetch(`http://127.0.0.1:${sdkPort}/metrics`)).text();
    expect(sdk).toMatch(/^temporal_workflow_task_schedule_to_start_latency_seconds_count\{/m);
    expect(sdk).toMatch(/^temporal_worker_task_slots_available\{/m);
    expect(sdk).toMatch(/^temporal_activity_execution_latency_seconds_count\{[^}]*activity_type="callProvider"/m);
    expect(worker.logLines().find((l) => l['msg'] === 'metrics listening')).toMatchObject({ url: `http://127.0.0.1:${port}/metrics` });
    await worker.stop();
  });

  it('framework.enable_metrics: false: neither port listens', async () => {
    const namespace = `metrics-process-off-${run}`;
    await ensureNamespace(namespace);
    const configPath = join(dir, 'config-off.yaml');
    writeFileSync(configPath, readFileSync(join(REPO_ROOT, 'config.yaml'), 'utf8').replace(/^ {2}enable_metrics: true$/m, '  enable_metrics: false'));
    expect(readFileSync(configPath, 'utf8')).toMatch(/^ {2}enable_metrics: false$/m);
    const [port, sdkPort] = [await freePort(), await freePort()];
    const worker = await spawnNpmWorker(namespace, { DATABASE_URL: `file:${join(dir, 'off.db')}`, CONFIG_PATH: configPath, METRICS_PORT: String(port), METRICS_SDK_PORT: String(sdkPort) });
    workers.push(worker);
    for (const p of [port, sdkPort]) {
      const reached = await fetch(`http://127.0.0.1:${p}/metrics`).then(
        () => true,
        () => false,
      );
      expect(reached, `port ${p}`).toBe(false);
    }
    expect(worker.logLines().some((l) => l['msg'] === 'metrics listening')).toBe(false);
    await worker.stop();
  });
});
