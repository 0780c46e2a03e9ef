import type { GenerateRequest, GenerateResponse } from '../types';
import type { ProviderKind } from '../config/schema';

/**
 * One provider connection (the product description's `BaseModelConnector`).
 * Connectors never retry: Temporal owns retries. They classify every failure once, as a
 * `ProviderCallError` (see ./errors.ts).
 */
export interface ModelConnector {
  /** Provider name from config (`models.<name>`). */
  readonly provider: string;
  readonly kind: ProviderKind;
  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResponse>;
  /** True when the endpoint answers and accepts our credentials. Never throws. */
  validateConnection(): Promise<boolean>;
  getSupportedModels(): string[];
}

export interface GenerateOptions {
  /** Aborts the HTTP call (activity cancellation). */
  signal?: AbortSignal;
  /** Per-attempt timeout in ms; a timeout is a retryable `ProviderTimeout`. */
  timeoutMs?: number;
}

export interface ConnectorOptions {
  provider: string;
  baseUrl?: string;
  /** Held in memory by the worker only; never logged, persisted, or sent to Temporal. */
  apiKey?: string;
  defaultModel: string;
  models: string[];
  /** Injected for tests. */
  fetch?: typeof fetch;
}
