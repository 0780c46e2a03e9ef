/** Argument parsers and defaults shared by the CLI's command groups. */
import { userInfo } from 'node:os';
import { InvalidArgumentError } from 'commander';

/** `cli:<login>`: who made a change from the command line (routing updates, approvals, experiments). */
export function cliUser(): string {
  let user = process.env['USER'];
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `cli:${user}`;
}

/** A commander parser for a finite number (`integer`: a whole one); names the option when it is not. */
export function numberArg(name: string, integer = false) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'}, got "${v}"`);
    }
    return n;
  };
}

export const intArg = (name: string) => numberArg(name, true);
export const floatArg = (name: string) => numberArg(name);

/**
 * Exit codes scripts can trust: 0 done; 1 the request (or command) failed: a typed error such as
 * InvalidRequest, a failed workflow, a rejected change, an unreachable server; 2 usage: unknown
 * command or option, a missing or conflicting argument, an unreadable `--prompt-file`.
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake in how the CLI was called (exit code 2), as opposed to a request that failed. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Reading end gone (`cli routing show | head`): stop quietly with 0, as conventional tools do,
 * instead of an unhandled EPIPE stack trace. Other stream errors stay fatal.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.ok);
    throw err;
  });
}

/** All of standard input as UTF-8 text. */
export async function readStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
