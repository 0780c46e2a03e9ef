/**
 * Names shared by the routing-policy workflow, its clients, the worker-side cache and the tests.
 * Pure module: safe to import from workflow code.
 */

/** Workflow id of the one long-lived routing-policy workflow per namespace (a business id). */
export const ROUTING_POLICY_WORKFLOW_ID = 'routing-policy';

/** Workflow type name (the exported function's name). */
export const ROUTING_POLICY_WORKFLOW_TYPE = 'routingPolicyWorkflow';
