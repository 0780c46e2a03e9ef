/**
 * The testing kit for users' own code (`import { createTestOrchestrator, MockModelConnector } from
 * 'temporal-llm-orchestrator/testing'`). See README: Testing your own code.
 */
export { createTestOrchestrator, TestOrchestratorError, UnsupportedInTimeSkipping, type TestOrchestrator, type TestOrchestratorOptions } from './orchestrator';
export { MockModelConnector, MockScriptError, type MockAnswer, type MockCall, type MockFailure, type MockHang, type MockMatcher, type MockModelConnectorOptions, type MockStep } from './mock-connector';
export { findTestServer, TestServerNotFound, type TestEnvironmentKind } from './servers';
export { createServerClock, type ServerClock } from './server-clock';
export { ProviderCallError, PROVIDER_ERROR_TYPES, type ProviderErrorType } from '../providers/errors';
