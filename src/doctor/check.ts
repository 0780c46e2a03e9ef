/**
 * The shape of one doctor check and its outcome, and the timeout every check runs under (a down
 * service makes its check FAIL after `timeoutMs`, it never hangs the doctor).
 */

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface CheckResult {
  /** Stable id for scripts, e.g. `temporal.connection`. */
  id: string;
  /** What was checked, for people. */
  title: string;
  status: CheckStatus;
  /** What was found (PASS / FAIL) or why it does not apply (SKIP). Never a secret. */
  detail: string;
  /** What to do about a FAIL (null otherwise). */
  advice: string | null;
  durationMs: number;
}

export interface DoctorReport {
  /** True when no check failed (SKIP is fine). */
  ok: boolean;
  /** ISO-8601. */
  at: string;
  checks: CheckResult[];
}

/** What a check's body returns; the runner adds the id, title and duration. */
export type Outcome = Pick<CheckResult, 'status' | 'detail' | 'advice'>;

export const pass = (detail: string): Outcome => ({ status: 'PASS', detail, advice: null });
export const fail = (detail: string, advice: string): Outcome => ({ status: 'FAIL', detail, advice });
export const skip = (detail: string): Outcome => ({ status: 'SKIP', detail, advice: null });

export class CheckTimeout extends Error {
  override readonly name = 'CheckTimeout';
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** `promise`, or a CheckTimeout after `ms` (the promise is left to settle in the background). */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // The first line that says something (Prisma's messages open with a blank line and a call site).
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/^Invalid `.*` invocation/.test(l));
  return (line ?? (err instanceof Error ? err.name : 'unknown error')).slice(0, 300);
}

/** Run `body` under the timeout; a throw or a timeout is a FAIL with `advice`. */
export async function runCheck(id: string, title: string, timeoutMs: number, advice: string, body: () => Promise<Outcome>): Promise<CheckResult> {
  const started = Date.now();
  let outcome: Outcome;
  try {
    outcome = await within(timeoutMs, body());
  } catch (err) {
    outcome = fail(messageOf(err), advice);
  }
  return { id, title, ...outcome, durationMs: Date.now() - started };
}
