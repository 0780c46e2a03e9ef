/**
 * The product description's facade, in TypeScript:
 *
 *   const framework = await AIOrchestrationFramework.fromConfig('config.yaml');
 *   const { response, metadata } = await framework.processRequest({ prompt, taskType: 'code_generation', userId: 'u1' });
 *
 * Each call is a durable Temporal workflow run by a worker (`npm run worker`).
 */
import { loadEnv, type Env } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import type { Config } from '../src/config/schema';
import type { OrchestrateRequest, OrchestrationResult } from '../src/types';
import { OrchestratorClient, type StartedRequest } from './orchestrator-client';

export class AIOrchestrationFramework {
  private constructor(
    readonly config: Config,
    readonly client: OrchestratorClient,
  ) {}

  static async fromConfig(path: string, options: { env?: Env } = {}): Promise<AIOrchestrationFramework> {
    const config = loadConfig(path);
    const client = await OrchestratorClient.connect({ config, env: options.env ?? loadEnv() });
    return new AIOrchestrationFramework(config, client);
  }

  processRequest(request: OrchestrateRequest): Promise<OrchestrationResult> {
    return this.client.processRequest(request);
  }

  start(request: OrchestrateRequest): Promise<StartedRequest> {
    return this.client.start(request);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
