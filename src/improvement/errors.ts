/**
 * Typed errors of the improvement loop. Each `code` is also the ApplicationFailure type when the
 * error crosses the Temporal wire (activities turn them into non-retryable failures), so the
 * workflow and the clients branch on the code.
 */
export type ImprovementErrorCode =
  | 'InvalidExperiment'
  | 'ExperimentNotFound'
  | 'ExperimentNotRunning'
  | 'ProposalNotFound'
  | 'ProposalAlreadyDecided'
  | 'ReportNotFound'
  | 'InvalidDecision'
  | 'StoredDataInvalid';

export class ImprovementError extends Error {
  readonly code: ImprovementErrorCode;
  /** Structured details (never secrets). */
  readonly details: Record<string, unknown>;
  constructor(code: ImprovementErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
  override get name(): string {
    return this.code;
  }
}

export const IMPROVEMENT_ERROR_CODES: readonly ImprovementErrorCode[] = [
  'InvalidExperiment',
  'ExperimentNotFound',
  'ExperimentNotRunning',
  'ProposalNotFound',
  'ProposalAlreadyDecided',
  'ReportNotFound',
  'InvalidDecision',
  'StoredDataInvalid',
];

export function isImprovementErrorCode(code: unknown): code is ImprovementErrorCode {
  return typeof code === 'string' && (IMPROVEMENT_ERROR_CODES as readonly string[]).includes(code);
}
