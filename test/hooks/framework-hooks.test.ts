/**
 * framework.on and startWorker's `hooks`: hooks registered on the framework object (before or
 * after its worker starts) and hooks given to startWorker get the events of that worker's
 * requests; an unsubscribed hook stops getting them; a bad hook is refused at once.
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
import type { StartedWorker } from '../../worker';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { WORKFLOWS_PATH } from '../helpers/temporal';

describe('framework.on and startWorker hooks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-hooks-framework-'));
  const taskQueue = `test-hooks-framework-${randomUUID().slice(0, 8)}`;
  let framework: AIOrchestrationFramework;
  let worker: StartedWorker;
  let running: Promise<void>;
  const early: string[] = [];
  const late: string[] = [];
  const viaOptions: string[] = [];
  let offLate: () => void;

  beforeAll(async () => {
    const env = loadEnv({ DATABASE_URL: `file:${join(dir, 'test.db')}`, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'warn', METRICS_PORT: '0' });
    framework = await AIOrchestrationFramework.fromConfig(join(REPO_ROOT, 'config.yaml'), { env });
    framework.on('request.completed', (e) => void early.push(e.workflowId));
    worker = await framework.startWorker({
      taskQueue,
      logger: createLogger('warn', 'hooks-framework'),
      runtime: { secrets: {}, emulatorPort: 0, routingPolicyWorkflowId: `routing-policy-${taskQueue}` },
      workflowSource: { kind: 'sources', workflowsPath: WORKFLOWS_PATH, reason: 'test' },
      ensureSchedule: false,
      installLogger: false,
      hooks: { 'request.started': (e) => void viaOptions.push(e.workflowId) },
    });
    running = worker.run();
    // Registered after the worker started: reaches the running worker too.
    offLate = framework.on('request.completed', async (e) => {
      await new Promise((r) => setTimeout(r, 1));
      late.push(e.workflowId);
    });
  });
  afterAll(async () => {
    worker?.worker.shutdown();
    await running;
    await framework?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the worker's requests reach hooks of the framework and of startWorker; unsubscribing stops them", async () => {
    expect(worker.runtime.hooks.list()).toEqual([
      { event: 'request.started', source: 'setup' },
      { event: 'request.completed', source: 'framework' },
      { event: 'request.completed', source: 'framework' },
    ]);
    const client = new OrchestratorClient({ client: worker.client, config: framework.config, env: worker.env, taskQueue });
    const ask = () => client.processRequest({ prompt: 'What is 7 + 8?', taskType: 'question_answering', userId: 'hooks-framework-user', providers: ['anthropic'] });
    const first = await ask();
    await worker.runtime.hooks.flush();
    expect(early).toEqual([first.metadata.workflowId]);
    expect(late).toEqual([first.metadata.workflowId]);
    expect(viaOptions).toEqual([first.metadata.workflowId]);

    offLate();
    const second = await ask();
    await worker.runtime.hooks.flush();
    expect(early).toEqual([first.metadata.workflowId, second.metadata.workflowId]);
    expect(late).toEqual([first.metadata.workflowId]);
  });

  it('refuses an unknown event or a hook that is not a function', () => {
    expect(() => framework.on('request.done' as never, () => undefined)).toThrow(/unknown event "request.done"/);
    expect(() => framework.on('request.started', {} as never)).toThrow(/must be a function/);
  });
});
