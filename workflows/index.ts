export { orchestrateRequest } from './orchestrate-request';
export { routingPolicyWorkflow } from './routing-policy';
