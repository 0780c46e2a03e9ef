/**
 * What logs may say about a request's text. Prompts, system prompts, messages and answers never
 * reach a log line at info level or above; at debug and trace they appear only with
 * LOG_PROMPTS=on (default off), otherwise as `[redacted: <n> chars]`. The logger applies this to
 * every object it logs (src/logger.ts, a pino `logMethod` hook: pino's own `redact` cannot see the
 * level), so a call site logs `{ prompt }` at debug and the rule decides.
 *
 * Three kinds of value are text:
 *  - fields named in TEXT_FIELDS (at any depth);
 *  - the message (and stack) of a request's failure: Temporal failures (ApplicationFailure,
 *    ActivityFailure, ...), provider and judge errors, and the request outcomes the client raises
 *    (InsufficientResponses, ConsensusNotReached, ...): they quote providers' error bodies and
 *    judges' answers, which may quote the prompt; and Prisma's validation errors, which print the
 *    rejected data. Their name, type and code stay; other errors (connections, nondeterminism)
 *    keep their messages;
 *    The same holds for Temporal's Failure messages inside the SDK's trace logs of activations;
 *  - Temporal payloads (`{ metadata, data: bytes }`, in the SDK's trace logs), which are always
 *    reduced to their size: encrypted or not, bytes in a log help nobody.
 * Log messages themselves (the string) are fixed text at every call site: never interpolate text.
 */

/** Field names whose values are request text. */
export const TEXT_FIELDS: ReadonlySet<string> = new Set([
  'prompt',
  'systemPrompt',
  'system',
  'messages',
  'content',
  'response',
  'responses',
  'answer',
  'answers',
  'text',
  'texts',
  'completion',
  'excerpt',
  'body',
]);

/** Error codes/names whose messages tell a request's story (see above). */
const REQUEST_FAILURES: ReadonlySet<string> = new Set([
  'ProviderCallError',
  'JudgeError',
  'WorkflowFailedError',
  'InsufficientResponses',
  'ConsensusNotReached',
  'ConsensusTimeout',
  'IdempotencyConflict',
  'InvalidRequest',
  // Prisma prints the failed invocation, data included (a prompt, an answer).
  'PrismaClientValidationError',
  'PrismaClientUnknownRequestError',
]);

const MAX_DEPTH = 8;

/** `[redacted: 123 chars]` for a string, `[redacted: 3 items]` for an array, `[redacted]` otherwise. */
export function redactedText(value: unknown): string {
  if (typeof value === 'string') return `[redacted: ${value.length} chars]`;
  if (Array.isArray(value)) return `[redacted: ${value.length} items]`;
  return '[redacted]';
}

/** Text for a log line: itself when prompts may be logged, else redacted. For the rare message that must carry text. */
export function textForLog(value: string, logPrompts: boolean): string {
  return logPrompts ? value : redactedText(value);
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  stack?: unknown;
  code?: unknown;
  type?: unknown;
  nonRetryable?: unknown;
  cause?: unknown;
}

function isErrorLike(v: object): v is ErrorLike {
  return v instanceof Error || (typeof (v as ErrorLike).message === 'string' && typeof (v as ErrorLike).name === 'string' && typeof (v as ErrorLike).stack === 'string');
}

/** True when an error's message may quote provider bodies, answers or prompts. */
export function isRequestFailure(err: ErrorLike): boolean {
  const name = typeof err.name === 'string' ? err.name : '';
  const code = typeof err.code === 'string' ? err.code : '';
  // An error copied out of the workflow sandbox arrives as a plain Error: its stack still names the class.
  const stackName = typeof err.stack === 'string' ? (/^(\w+)(?::|$)/.exec(err.stack)?.[1] ?? '') : '';
  return [name, code, stackName].some((n) => /Failure$/.test(n) || REQUEST_FAILURES.has(n));
}

/** A Temporal Failure message (protobuf shape, in the SDK's trace logs of activations and tasks). */
function isFailureProto(o: Record<string, unknown>): boolean {
  return typeof o['message'] === 'string' && (typeof o['source'] === 'string' || 'stackTrace' in o || Object.keys(o).some((k) => k.endsWith('FailureInfo')));
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function scrubError(err: ErrorLike, allowText: boolean, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const text = !allowText && isRequestFailure(err);
  const message = typeof err.message === 'string' ? err.message : '';
  // Numbers and flags an error carries (status, attempt, retryable) say nothing of the request's text.
  const figures = Object.fromEntries(Object.entries(err).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean'));
  return {
    ...figures,
    name: err.name,
    ...(err.code !== undefined && { code: err.code }),
    ...(err.type !== undefined && err.type !== null && { type: err.type }),
    ...(err.nonRetryable !== undefined && err.nonRetryable !== null && { nonRetryable: err.nonRetryable }),
    message: text ? redactedText(message) : message,
    ...(!text && typeof err.stack === 'string' && { stack: err.stack }),
    ...(err.cause !== undefined && err.cause !== null && { cause: scrub(err.cause, allowText, depth + 1, seen) }),
  };
}

function scrub(value: unknown, allowText: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (isBytes(value)) return `[${value.length} bytes]`;
  // `seen` holds the objects on the current path only: a cycle ends, a value referenced twice is shown twice.
  if (seen.has(value)) return '[circular]';
  if (depth > MAX_DEPTH) return '[...]';
  seen.add(value);
  try {
    return scrubObject(value, allowText, depth, seen);
  } finally {
    seen.delete(value);
  }
}

function scrubObject(value: object, allowText: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (isErrorLike(value)) return scrubError(value, allowText, depth, seen);
  if (Array.isArray(value)) return value.map((v) => scrub(v, allowText, depth + 1, seen));
  const o = value as Record<string, unknown>;
  if (isBytes(o['data']) && o['metadata'] !== null && typeof o['metadata'] === 'object') return `[payload: ${o['data'].length} bytes]`;
  const failureProto = !allowText && isFailureProto(o);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (failureProto && (k === 'message' || k === 'stackTrace') && typeof v === 'string') {
      out[k] = redactedText(v);
      continue;
    }
    const isText = TEXT_FIELDS.has(k) && (typeof v === 'string' || (v !== null && typeof v === 'object'));
    out[k] = isText && !allowText ? redactedText(v) : scrub(v, allowText, depth + 1, seen);
  }
  return out;
}

/**
 * A copy of a log object with request text redacted, unless `allowText` (LOG_PROMPTS=on and a
 * debug or trace line). Payloads are reduced to their size either way.
 */
export function scrubLogObject<T>(value: T, allowText: boolean): T | Record<string, unknown> {
  return scrub(value, allowText, 0, new WeakSet()) as T | Record<string, unknown>;
}
