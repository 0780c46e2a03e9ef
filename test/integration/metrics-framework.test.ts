/**
 * framework.addMetricsCollector: a collector registered on the framework object gets the metric
 * events of the workers that object starts (before or after they start), in the worker process;
 * the worker started this way serves /metrics on METRICS_PORT (0 here: a free port).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIOrchestrationFramework } from '../../client/framework';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import type { MetricEvent } from '../../src/metrics';
import type { StartedWorker } from '../../worker';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { WORKFLOWS_PATH } from '../helpers/temporal';

describe('framework.addMetricsCollector', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-metrics-framework-'));
  const taskQueue = `test-metrics-framework-${randomUUID().slice(0, 8)}`;
  let framework: AIOrchestrationFramework;
  let worker: StartedWorker;
  let running: Promise<void>;
  const early: MetricEvent[] = [];
  const late: MetricEvent[] = [];

  beforeAll(async () => {
    const env = loadEnv({ DATABASE_URL: `file:${join(dir, 'test.db')}`, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'warn', METRICS_PORT: '0' });
    framework = await AIOrchestrationFramework.fromConfig(join(REPO_ROOT, 'config.yaml'), { env });
    framework.addMetricsCollector({ name: 'before-start', collect: (e) => void early.push(e) });
    worker = await framework.startWorker({
      taskQueue,
      logger: createLogger('warn', 'metrics-framework'),
      runtime: { secrets: {}, emulatorPort: 0, routingPolicyWorkflowId: `routing-policy-${taskQueue}` },
      workflowSource: { kind: 'sources', workflowsPath: WORKFLOWS_PATH, reason: 'test' },
      ensureSchedule: false,
      installLogger: false,
    });
    running = worker.run();
    // Registered after the worker started: reaches the running worker too.
    framework.addMetricsCollector({
      name: 'after-start',
      collect: async (e) => {
        await new Promise((r) => setTimeout(r, 1));
        late.push(e);
      },
    });
  });
  afterAll(async () => {
    worker?.worker.shutdown();
    await running;
    await framework?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets every request and provider-call event of the workers the framework started', async () => {
    expect(worker.runtime.metrics.collectors().sort()).toEqual(['after-start', 'before-start']);
    const client = new OrchestratorClient({ client: worker.client, config: framework.config, env: worker.env, taskQueue });
    const result = await client.processRequest({ prompt: 'What is 7 + 8?', taskType: 'question_answering', userId: 'metrics-framework-user', providers: ['anthropic'] });
    expect(result.response).toMatch(/15/);
    await worker.runtime.metrics.flush();
    for (const events of [early, late]) {
      expect(events.filter((e) => e.name === 'orchestrator_requests_total')).toEqual([
        { name: 'orchestrator_requests_total', value: 1, tags: { task_type: 'question_answering', status: 'completed', error_type: 'none', consensus_strategy: 'none', routing_strategy: 'static' } },
      ]);
      expect(events.filter((e) => e.name === 'orchestrator_provider_calls_total')).toEqual([
        { name: 'orchestrator_provider_calls_total', value: 1, tags: { provider: 'anthropic', model: 'claude-haiku-4-5', status: 'succeeded', error_type: 'none' } },
      ]);
      expect(events.find((e) => e.name === 'orchestrator_tokens_total' && e.tags['direction'] === 'out')?.value).toBe(result.metadata.tokensOut);
    }
    // The same worker serves GET /metrics (METRICS_PORT=0: a free port).
    const text = await (await fetch(`${worker.runtime.metricsServer!.url}/metrics`)).text();
    expect(text).toMatch(/^orchestrator_requests_total\{[^}]*status="completed"[^}]*\} 1$/m);
  });

  it('refuses a collector that is not { name, collect }', () => {
    expect(() => framework.addMetricsCollector({ name: 'x' } as never)).toThrow(/collector is \{ name: string, collect/);
  });
});
