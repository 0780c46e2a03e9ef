/** Assertion helper: a promise must reject with a ProviderCallError, returned for further checks. */
import { expect } from 'vitest';
import { ProviderCallError } from '../../src/providers/errors';

export async function expectProviderFailure(promise: Promise<unknown>): Promise<ProviderCallError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderCallError);
  return err as ProviderCallError;
}
