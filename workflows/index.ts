export { recordFeedbackWorkflow } from './feedback';
export { orchestrateRequest } from './orchestrate-request';
export { routingPolicyWorkflow } from './routing-policy';
export * from './improvement';
export * from './retention';
