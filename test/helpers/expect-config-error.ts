/** Assertion helper (imports vitest, so it lives apart from config.ts, which scripts import too). */
import { expect } from 'vitest';
import { ConfigError } from '../../src/errors';

/** Run `fn`, expect it to throw a ConfigError, and return that error for further checks. */
export function expectConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
