/**
 * A request's fingerprint: one short hash per field that decides the answer (prompt, user, task
 * type and settings), so a second request under the same request id / workflow id can be told
 * apart from a resubmission, and the fields that differ named, without storing the request twice.
 * The request id itself is the key, not part of the fingerprint.
 */
import { createHash } from 'node:crypto';

/** The fields compared, in the order a conflict names them. */
export const FINGERPRINT_FIELDS = [
  'prompt',
  'systemPrompt',
  'userId',
  'taskType',
  'requireConsensus',
  'minProviders',
  'complexityOverride',
  'providers',
  'consensusStrategy',
  'temperature',
  'maxTokens',
  'messages',
  'conversationId',
] as const;

/**
 * Fields added after fingerprints were first stored. A stored fingerprint without one was taken
 * from a request that could not have had it: it reads as the hash of an absent field (null), so
 * old and new fingerprints stay comparable.
 */
const LATER_FIELDS: readonly FingerprintField[] = ['messages', 'conversationId'];

export type FingerprintField = (typeof FINGERPRINT_FIELDS)[number];

export interface RequestFingerprint {
  v: 1;
  fields: Record<FingerprintField, string>;
}

function hash(value: unknown): string {
  // An absent field and an explicit null/undefined are the same request.
  return createHash('sha256')
    .update(JSON.stringify(value ?? null))
    .digest('hex')
    .slice(0, 32);
}

/** Fingerprint of a request as it arrived (any shape: a field that is not there hashes as null). */
export function requestFingerprint(request: unknown): RequestFingerprint {
  const source = typeof request === 'object' && request !== null ? (request as Record<string, unknown>) : {};
  const fields = {} as Record<FingerprintField, string>;
  for (const name of FINGERPRINT_FIELDS) fields[name] = hash(source[name]);
  return { v: 1, fields };
}

/** A stored fingerprint read back from JSON (null when it is not one). */
export function parseFingerprint(value: unknown): RequestFingerprint | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { v?: unknown; fields?: unknown };
  if (v.v !== 1 || typeof v.fields !== 'object' || v.fields === null) return null;
  const stored = v.fields as Record<string, unknown>;
  const fields = { ...stored };
  for (const f of LATER_FIELDS) if (fields[f] === undefined) fields[f] = hash(null);
  if (!FINGERPRINT_FIELDS.every((f) => typeof fields[f] === 'string')) return null;
  return { v: 1, fields: fields as Record<FingerprintField, string> };
}

/** The fields whose values differ between two fingerprints, in FINGERPRINT_FIELDS order. */
export function fingerprintDifferences(stored: RequestFingerprint, incoming: RequestFingerprint): FingerprintField[] {
  return FINGERPRINT_FIELDS.filter((f) => stored.fields[f] !== incoming.fields[f]);
}
