export { orchestrateRequest } from './orchestrate-request';
