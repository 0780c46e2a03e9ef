/** The user id an erasure accepts (light module: the client checks it before starting anything). */
import { InvalidRequest } from '../errors';

// The larger of the request schema's limit (128) and the API key's (200), so every stored user id can be erased.
const MAX_USER_ID = 200;

/** A non-empty string of at most 200 characters; else InvalidRequest naming userId. */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.trim().length === 0) {
    throw new InvalidRequest('invalid erasure: userId: must be a non-empty string', [{ path: 'userId', message: 'must be a non-empty string' }]);
  }
  if (userId.length > MAX_USER_ID) {
    throw new InvalidRequest(`invalid erasure: userId: at most ${MAX_USER_ID} characters`, [{ path: 'userId', message: `at most ${MAX_USER_ID} characters` }]);
  }
  return userId;
}
