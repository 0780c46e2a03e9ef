/**
 * Deterministic assignment of requests to experiment variants.
 *
 * A request is in an experiment when u_traffic < trafficShare, where
 *   u_traffic = unit(SHA-256("<experiment id>:traffic:<request id>"))
 * and then takes the variant whose cumulative share first exceeds
 *   u_variant = unit(SHA-256("<experiment id>:variant:<request id>"))
 * (unit = the first 52 bits of the digest over 2^52; see hash.ts). The two draws are independent,
 * so raising the traffic share later keeps every request already in the experiment in the same
 * variant; the same request id always lands in the same place, in any process, on any machine.
 *
 * Pure and deterministic: safe in workflow code and activities alike.
 */
import { unitInterval } from './hash';

export interface AssignableVariant {
  name: string;
  /** Share of the experiment's traffic, in (0, 1]; the shares of an experiment sum to 1. */
  share: number;
}

export interface AssignableExperiment {
  id: string;
  taskType: string;
  /** Only running experiments take traffic. */
  status: string;
  /** Share of the task type's requests in the experiment, in (0, 1]. */
  trafficShare: number;
  variants: readonly AssignableVariant[];
}

export interface Assignment {
  experimentId: string;
  variant: string;
}

export function trafficBucket(experimentId: string, requestId: string): number {
  return unitInterval(`${experimentId}:traffic:${requestId}`);
}

export function variantBucket(experimentId: string, requestId: string): number {
  return unitInterval(`${experimentId}:variant:${requestId}`);
}

/** The variant a bucket value falls in, by cumulative share (the last variant takes rounding leftovers). */
export function variantForBucket(variants: readonly AssignableVariant[], u: number): string {
  const last = variants[variants.length - 1];
  if (!last) throw new RangeError('an experiment needs at least one variant');
  let cumulative = 0;
  for (const v of variants) {
    cumulative += v.share;
    if (u < cumulative) return v.name;
  }
  return last.name;
}

/** The variant of `requestId` in this experiment, or null when the request is outside its traffic share. */
export function assignVariant(experiment: AssignableExperiment, requestId: string): string | null {
  if (requestId.length === 0) throw new RangeError('requestId must not be empty');
  if (trafficBucket(experiment.id, requestId) >= experiment.trafficShare) return null;
  return variantForBucket(experiment.variants, variantBucket(experiment.id, requestId));
}

/**
 * The experiment and variant of one request: the running experiments of its task type are
 * tried in id order and the first whose traffic share takes the request wins, so a request is in
 * at most one experiment. Null when none takes it.
 */
export function assignRequest(experiments: readonly AssignableExperiment[], request: { requestId: string; taskType: string }): Assignment | null {
  const candidates = experiments.filter((e) => e.status === 'running' && e.taskType === request.taskType).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of candidates) {
    const variant = assignVariant(e, request.requestId);
    if (variant !== null) return { experimentId: e.id, variant };
  }
  return null;
}
