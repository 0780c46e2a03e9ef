export { AIOrchestrationFramework } from './framework';
export { OrchestratorClient, translateFailure, type RequestSummary, type StartedRequest } from './orchestrator-client';
export * from '../src/errors';
export type { OrchestrateRequest, OrchestrationResult, OrchestrationMetadata } from '../src/types';
