/**
 * Meta-prompting: ask a model for a better system prompt for a task type, from samples of
 * interactions whose answers agreed poorly. The candidate never replaces the current prompt
 * directly: it becomes a `prompt_experiment` proposal, an A/B experiment (current prompt as the
 * control, candidate as the variant) that a person starts by approving it.
 *
 * Pure: builds the request, reads the answer, shapes the proposal. The model is called by an
 * activity through the normal connectors.
 */
import { z } from 'zod';
import type { ExperimentInput } from './experiments';
import { shortId } from './hash';
import type { Proposal } from './proposals';
import type { LowAgreementSample } from './store';

const MAX_SAMPLE_CHARS = 1200;

function clip(text: string | null, max = MAX_SAMPLE_CHARS): string {
  if (text === null) return '(none)';
  return text.length <= max ? text : `${text.slice(0, max)} [...]`;
}

export interface MetaPromptRequest {
  systemPrompt: string;
  prompt: string;
}

/** The request to the prompt-writing model. Samples are cut to keep it small. */
export function metaPromptRequest(input: { taskType: string; currentSystemPrompt: string | null; samples: readonly LowAgreementSample[] }): MetaPromptRequest {
  const samples = input.samples
    .map((s, i) => [`### Sample ${i + 1} (agreement ${s.agreement === null ? 'unknown' : s.agreement.toFixed(2)})`, 'User prompt:', clip(s.prompt), 'Chosen answer:', clip(s.response)].join('\n'))
    .join('\n\n');
  return {
    systemPrompt:
      'You improve system prompts for a multi-model LLM service. Several models answer each request and their answers are compared; ' +
      'low agreement means the models understood the task differently. Write one system prompt that makes the task, the expected ' +
      'form and the level of detail unambiguous, so that good models converge on the same correct answer. Do not mention the models, ' +
      'the comparison or these instructions. Reply with JSON only: {"systemPrompt": "...", "rationale": "..."}.',
    prompt: [
      `Task type: ${input.taskType}`,
      '',
      'Current system prompt:',
      clip(input.currentSystemPrompt, 4000),
      '',
      `Requests where the models agreed poorly (${input.samples.length}):`,
      '',
      samples,
    ].join('\n'),
  };
}

const CandidateSchema = z.object({ systemPrompt: z.string().trim().min(20).max(8000), rationale: z.string().max(4000).default('') });
export type PromptCandidate = z.infer<typeof CandidateSchema>;

/** The candidate in the model's answer (JSON, possibly in a code fence), or why there is none. */
export function parseMetaPromptResponse(text: string): { ok: true; candidate: PromptCandidate } | { ok: false; reason: string } {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text);
  const body = (fenced?.[1] ?? text).trim();
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0 || end <= start) return { ok: false, reason: 'the answer holds no JSON object' };
  let value: unknown;
  try {
    value = JSON.parse(body.slice(start, end + 1));
  } catch (err) {
    return { ok: false, reason: `the answer is not valid JSON: ${(err as Error).message}` };
  }
  const parsed = CandidateSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: `the answer does not have the expected shape: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  return { ok: true, candidate: parsed.data };
}

export interface PromptExperimentSettings {
  trafficShare: number;
  samplesPerVariant: number;
  /** `provider:model` that wrote the candidate. */
  model: string;
}

/** The proposal to run the candidate against the current prompt. Confidence 0: it is a hypothesis, not a finding. */
export function promptExperimentProposal(input: {
  reportId: string;
  taskType: string;
  currentSystemPrompt: string | null;
  candidate: PromptCandidate;
  lowAgreementCount: number;
  settings: PromptExperimentSettings;
}): Proposal {
  const { reportId, taskType, candidate, settings } = input;
  const id = shortId('p', `${reportId}:prompt_experiment:${taskType}`);
  const experiment: ExperimentInput = {
    id: shortId(`prompt-${taskType.replace(/[^a-z0-9_.-]/g, '-')}`.slice(0, 40), `${reportId}:${taskType}`, 8),
    name: `meta-prompt for ${taskType} (${reportId})`,
    kind: 'prompt_template',
    taskType,
    variants: [
      { name: 'current', share: 0.5, config: { systemPrompt: input.currentSystemPrompt } },
      { name: 'candidate', share: 0.5, config: { systemPrompt: candidate.systemPrompt } },
    ],
    trafficShare: settings.trafficShare,
    minSamples: settings.samplesPerVariant,
    createdBy: `improvement:${reportId}`,
    reason: `meta-prompting from ${input.lowAgreementCount} low-agreement ${taskType} requests (prompt by ${settings.model})`,
  };
  return {
    id,
    kind: 'prompt_experiment',
    target: `prompt:${taskType}`,
    summary: `A/B test a new system prompt for ${taskType} on ${Math.round(settings.trafficShare * 100)}% of its traffic (${input.lowAgreementCount} requests agreed poorly)`,
    change: { type: 'experiment', experiment },
    evidence: {
      summary: `${input.lowAgreementCount} ${taskType} requests in the window had low agreement; ${settings.model} proposed a clearer system prompt${candidate.rationale ? `: ${candidate.rationale.slice(0, 500)}` : ''}`,
      tests: [],
      figures: { lowAgreementRequests: input.lowAgreementCount, candidateChars: candidate.systemPrompt.length },
    },
    estimatedEffect: { metric: 'good_outcome_rate', current: null, expected: null, description: 'unknown until the experiment measures it; the experiment stops early if the candidate harms error rate or cost' },
    confidence: 0,
    dataPoints: input.lowAgreementCount,
  };
}
