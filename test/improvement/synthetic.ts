/**
 * Synthetic history for the improvement tests: requests fanned out to every provider (consensus),
 * each call failing, taking time, costing and agreeing as its provider's profile says. Seeded, so
 * a test sees the same rows on every run.
 */
import type { CallRow, InteractionRow } from '../../src/improvement/analysis';
import { seededRandom } from '../../src/routing/bandit';

export interface ProviderProfile {
  provider: string;
  model: string;
  errorRate: number;
  /** Error type of a failure (default ProviderServerError). */
  errorType?: string;
  /** Median latency of a successful call, ms. */
  latencyMs: number;
  /** Log-normal spread of latency (default 0.2). */
  latencySigma?: number;
  /** Share of calls taking 5x the median (default 0). */
  slowShare?: number;
  costUsd: number;
  /** Probability a successful answer agrees with the chosen one (default 0.95). */
  agreeRate?: number;
}

export interface SyntheticOptions {
  seed: number | string;
  requests: number;
  /** ISO; rows are spread evenly from here. */
  start: string;
  spacingMs?: number;
  providers: ProviderProfile[];
  taskTypes?: string[];
  idPrefix?: string;
}

export const HEALTHY: ProviderProfile[] = [
  { provider: 'openai', model: 'gpt-4o-mini', errorRate: 0.02, latencyMs: 800, costUsd: 0.0004 },
  { provider: 'anthropic', model: 'claude-haiku-4-5', errorRate: 0.02, latencyMs: 800, costUsd: 0.0004 },
  { provider: 'google', model: 'gemini-2.0-flash', errorRate: 0.02, latencyMs: 800, costUsd: 0.0004 },
];

export function synthetic(o: SyntheticOptions): InteractionRow[] {
  const random = seededRandom(o.seed);
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(1e-12, random()))) * Math.cos(2 * Math.PI * random());
  const taskTypes = o.taskTypes ?? ['question_answering', 'code_generation'];
  const complexities = ['simple', 'medium', 'complex'];
  const start = Date.parse(o.start);
  const rows: InteractionRow[] = [];
  for (let i = 0; i < o.requests; i++) {
    const calls: CallRow[] = [];
    const dissenting: string[] = [];
    for (const p of o.providers) {
      if (random() < p.errorRate) {
        calls.push({ provider: p.provider, model: p.model, status: 'failed', errorType: p.errorType ?? 'ProviderServerError', latencyMs: null, costUsd: 0, hedged: false });
        continue;
      }
      const slow = random() < (p.slowShare ?? 0) ? 5 : 1;
      const latencyMs = Math.round(p.latencyMs * slow * Math.exp((p.latencySigma ?? 0.2) * normal()));
      calls.push({ provider: p.provider, model: p.model, status: 'succeeded', errorType: null, latencyMs, costUsd: p.costUsd, hedged: false });
      if (random() >= (p.agreeRate ?? 0.95)) dissenting.push(p.provider);
    }
    const answered = calls.filter((c) => c.status === 'succeeded');
    rows.push({
      id: `${o.idPrefix ?? 'i'}-${i}`,
      taskType: taskTypes[i % taskTypes.length]!,
      complexity: complexities[i % complexities.length]!,
      status: answered.length > 0 ? 'completed' : 'failed',
      completedAt: new Date(start + i * (o.spacingMs ?? 1000)).toISOString(),
      consensusApplied: answered.length > 1,
      agreement: answered.length > 1 ? (answered.length - dissenting.length) / answered.length : null,
      confidence: answered.length > 1 ? (answered.length - dissenting.length) / answered.length : null,
      thresholdMet: answered.length > 1 ? dissenting.length === 0 : null,
      dissenting: answered.length > 1 ? dissenting : null,
      costUsd: calls.reduce((s, c) => s + c.costUsd, 0),
      processingTimeMs: Math.max(0, ...answered.map((c) => c.latencyMs ?? 0)),
      feedback: [],
      experimentId: null,
      variant: null,
      systemPrompt: null,
      calls,
    });
  }
  return rows;
}

/** The same profiles with one provider changed. */
export function withProvider(profiles: ProviderProfile[], provider: string, change: Partial<ProviderProfile>): ProviderProfile[] {
  return profiles.map((p) => (p.provider === provider ? { ...p, ...change } : p));
}
