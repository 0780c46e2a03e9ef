/** The response cache's record of an answer, and reading it back. */
import type { Outcome } from './outcome';

/** What the response cache holds for a request: the answer and its consensus figures. */
export type CachedAnswer = { v: 1; workflowId: string; providersUsed: string[] } & Omit<Outcome, 'escalated' | 'consensusDetails'>;

/** A cached value in the shape this workflow stores (anything else is a miss). */
export function cachedAnswer(value: unknown): (Omit<Outcome, 'escalated' | 'consensusDetails'> & { workflowId: string }) | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Partial<CachedAnswer>;
  if (v.v !== 1 || typeof v.response !== 'string' || typeof v.workflowId !== 'string') return null;
  const num = (x: unknown) => (typeof x === 'number' ? x : null);
  return {
    workflowId: v.workflowId,
    response: v.response,
    confidence: num(v.confidence),
    agreement: num(v.agreement),
    dissenting: Array.isArray(v.dissenting) ? v.dissenting.filter((d): d is string => typeof d === 'string') : [],
    thresholdMet: typeof v.thresholdMet === 'boolean' ? v.thresholdMet : null,
    lowConfidence: v.lowConfidence === true,
    consensusApplied: v.consensusApplied === true,
    consensusStrategy: typeof v.consensusStrategy === 'string' ? v.consensusStrategy : 'none',
  };
}
