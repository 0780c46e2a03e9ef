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
  /**
   * The same call through the SDK's streaming API: `onDelta` receives the answer's text as it
   * arrives, and the result is what `generate` would return (content, usage, finish reason) plus
   * the time to the first token. A failure before or after the first delta is a `ProviderCallError`.
   * Every built-in connector has it; a connector without it (test fakes) is called with `generate`.
   */
  generateStream?(request: GenerateRequest, options: StreamOptions): Promise<StreamedResponse>;
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

export interface StreamOptions extends GenerateOptions {
  /** Called with each piece of the answer's text, in order (never with an empty string). */
  onDelta(text: string): void;
}

export type StreamedResponse = Omit<GenerateResponse, 'firstTokenMs'> & {
  /** From sending the request to the first piece of text; null when the answer was empty. */
  firstTokenMs: number | null;
};
