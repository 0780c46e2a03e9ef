/** The user id an erasure accepts (light module: the client checks it before starting anything). */
import { InvalidRequest } from '../errors';

const MAX_USER_ID = 128;

/** A non-empty string of at most 128 characters (the request schema's limit); else InvalidRequest naming userId. */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.trim().length === 0) {
    throw new InvalidRequest('invalid erasure: userId: must be a non-empty string', [{ path: 'userId', message: 'must be a non-empty string' }]);
  }
  if (userId.length > MAX_USER_ID) {
    throw new InvalidRequest(`invalid erasure: userId: at most ${MAX_USER_ID} characters`, [{ path: 'userId', message: `at most ${MAX_USER_ID} characters` }]);
  }
  return userId;
}
