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
import type { RoutingRuleInput } from '../src/routing/policy';
import { OrchestratorClient, type StartedRequest } from './orchestrator-client';
import type { EraseUserResult } from './erasure';
import { setRule, showRouting, type RoutingChangeResult, type RoutingView } from './routing';

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

  /**
   * Add a routing rule at run time (or replace the one with the same id or task type and
   * complexity): a signal to the routing-policy workflow, validated there, recorded as a new
   * version. Workers plan with it within seconds.
   */
  addRoutingRule(rule: RoutingRuleInput, options: { source?: string; reason?: string } = {}): Promise<RoutingChangeResult> {
    return setRule({ client: this.client.client }, { rule, source: options.source ?? 'sdk', reason: options.reason ?? 'rule added through the SDK' });
  }

  /** The current routing policy, its version history and statistics. */
  routing(): Promise<RoutingView> {
    return showRouting({ client: this.client.client });
  }

  /** Rate an answer (score in [0, 1]); routing learns from it. */
  submitFeedback(input: { workflowId: string; score: number; comment?: string }): Promise<{ id: string; interactionId: string }> {
    return this.client.submitFeedback(input);
  }

  /** Erase everything stored for a user (right to erasure); counts per kind of what was removed. */
  eraseUser(userId: string): Promise<EraseUserResult> {
    return this.client.eraseUser(userId);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
