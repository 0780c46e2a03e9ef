/**
 * Typed errors, named as in the product description. Each has a stable `code` that is also
 * the Temporal `ApplicationFailure.type` when the error crosses the wire, so workflows branch
 * on `failure.type` and clients turn a failed workflow back into the same class.
 */
export type OrchestratorErrorCode =
  | 'ConfigError'
  | 'InvalidRequest'
  | 'ModelProviderNotFound'
  | 'InsufficientResponses'
  | 'ConsensusTimeout'
  | 'ConsensusNotReached'
  | 'DatabaseConnectionError'
  | 'QuotaExceeded'
  | 'BudgetExceeded'
  | 'IdempotencyConflict'
  | 'PluginError';

export abstract class OrchestratorError extends Error {
  abstract readonly code: OrchestratorErrorCode;
  /** Structured details (never secrets). */
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.details = details;
  }
  override get name(): string {
    return this.code;
  }
}

/**
 * A plugin (src/plugins) could not be loaded, set up or registered. `details.plugin` names it (its
 * module path when the name is not known yet); the message says the cause. Nothing of any plugin
 * was registered.
 */
export class PluginError extends OrchestratorError {
  readonly code = 'PluginError';
}

/** A configuration value is missing or wrong. `issues` name the key paths. */
export class ConfigError extends OrchestratorError {
  readonly code = 'ConfigError';
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[] = [],
    options?: ErrorOptions,
  ) {
    super(message, { issues }, options);
  }
}

/** A request failed validation before any workflow started. */
export class InvalidRequest extends OrchestratorError {
  readonly code = 'InvalidRequest';
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message, { issues });
  }
}

/** The request names a provider or model that is not configured. */
export class ModelProviderNotFound extends OrchestratorError {
  readonly code = 'ModelProviderNotFound';
}

/** Fewer providers answered than the request needs. `details.attempts` says what was tried and why. */
export class InsufficientResponses extends OrchestratorError {
  readonly code = 'InsufficientResponses';
}

export class ConsensusTimeout extends OrchestratorError {
  readonly code = 'ConsensusTimeout';
}

/** Agreement stayed below the threshold after escalation, and configuration says to fail. */
export class ConsensusNotReached extends OrchestratorError {
  readonly code = 'ConsensusNotReached';
}

export class DatabaseConnectionError extends OrchestratorError {
  readonly code = 'DatabaseConnectionError';
}

/**
 * A user is over a request or token quota for the period. `details`: `limit` (the config key,
 * e.g. 'per_user_requests'), `scope`, `period` ('day' | 'month'), `periodKey`, `used`, `requested`,
 * `max`. Nothing was reserved and nothing was called.
 */
export class QuotaExceeded extends OrchestratorError {
  readonly code = 'QuotaExceeded';
}

/**
 * A request's estimated cost would take a user's or the global spend over its budget for the
 * period. `details` as for QuotaExceeded, amounts in USD. Nothing was reserved and nothing was called.
 */
export class BudgetExceeded extends OrchestratorError {
  readonly code = 'BudgetExceeded';
}

/**
 * A request id (workflow id) that already ran was submitted again with a different request.
 * `details`: `workflowId` and `fields`, the request fields that differ (prompt, userId, settings).
 * The earlier answer is not returned and nothing is called or stored.
 */
export class IdempotencyConflict extends OrchestratorError {
  readonly code = 'IdempotencyConflict';
  get workflowId(): string {
    return typeof this.details['workflowId'] === 'string' ? this.details['workflowId'] : '';
  }
  get fields(): string[] {
    const fields = this.details['fields'];
    return Array.isArray(fields) ? fields.filter((f): f is string => typeof f === 'string') : [];
  }
}

const constructors: Record<OrchestratorErrorCode, (message: string, details: Record<string, unknown>) => OrchestratorError> = {
  ConfigError: (m, d) => new ConfigError(m, (d['issues'] as ConfigError['issues'] | undefined) ?? []),
  InvalidRequest: (m, d) => new InvalidRequest(m, (d['issues'] as InvalidRequest['issues'] | undefined) ?? []),
  ModelProviderNotFound: (m, d) => new ModelProviderNotFound(m, d),
  InsufficientResponses: (m, d) => new InsufficientResponses(m, d),
  ConsensusTimeout: (m, d) => new ConsensusTimeout(m, d),
  ConsensusNotReached: (m, d) => new ConsensusNotReached(m, d),
  DatabaseConnectionError: (m, d) => new DatabaseConnectionError(m, d),
  QuotaExceeded: (m, d) => new QuotaExceeded(m, d),
  BudgetExceeded: (m, d) => new BudgetExceeded(m, d),
  IdempotencyConflict: (m, d) => new IdempotencyConflict(m, d),
  PluginError: (m, d) => new PluginError(m, d),
};

export function isOrchestratorErrorCode(code: unknown): code is OrchestratorErrorCode {
  return typeof code === 'string' && Object.hasOwn(constructors, code);
}

/** Rebuild a typed error from a failure type and message (client side). */
export function orchestratorErrorFrom(code: OrchestratorErrorCode, message: string, details: Record<string, unknown> = {}): OrchestratorError {
  return constructors[code](message, details);
}

/** Render zod issues as `path: message` pairs. */
export function zodIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}
