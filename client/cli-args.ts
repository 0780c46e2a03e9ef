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
