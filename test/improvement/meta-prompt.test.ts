import { describe, expect, it } from 'vitest';
import { ExperimentInputSchema } from '../../src/improvement/experiments';
import { metaPromptRequest, parseMetaPromptResponse, promptExperimentProposal } from '../../src/improvement/meta-prompt';
import { decide } from '../../src/improvement/proposals';

describe('meta-prompting', () => {
  it('the request shows the current prompt and the samples, cut to size', () => {
    const long = 'x'.repeat(5000);
    const r = metaPromptRequest({
      taskType: 'summarize',
      currentSystemPrompt: 'Summarise.',
      samples: [
        { taskType: 'summarize', prompt: long, systemPrompt: 'Summarise.', response: 'short answer', agreement: 0.2 },
        { taskType: 'summarize', prompt: 'p2', systemPrompt: null, response: null, agreement: null },
      ],
    });
    expect(r.systemPrompt).toMatch(/Reply with JSON only/);
    expect(r.prompt).toContain('Task type: summarize');
    expect(r.prompt).toContain('Current system prompt:\nSummarise.');
    expect(r.prompt).toContain('### Sample 1 (agreement 0.20)');
    expect(r.prompt).toContain('### Sample 2 (agreement unknown)');
    expect(r.prompt).toContain(`${'x'.repeat(1200)} [...]`);
    expect(r.prompt).not.toContain('x'.repeat(1201));
    expect(r.prompt.length).toBeLessThan(3000);
  });

  it('reads the candidate from plain JSON, from a code fence, or from prose around it', () => {
    const prompt = 'Answer the question in one precise sentence, then stop.';
    for (const text of [
      JSON.stringify({ systemPrompt: prompt, rationale: 'r' }),
      `Sure!\n\`\`\`json\n${JSON.stringify({ systemPrompt: prompt })}\n\`\`\``,
      `Here you go: ${JSON.stringify({ systemPrompt: prompt, rationale: 'shorter' })} Hope it helps.`,
    ]) {
      const parsed = parseMetaPromptResponse(text);
      expect(parsed.ok && parsed.candidate.systemPrompt).toBe(prompt);
    }
  });

  it('says why an answer is unusable', () => {
    expect(parseMetaPromptResponse('I cannot help with that.')).toEqual({ ok: false, reason: 'the answer holds no JSON object' });
    expect(parseMetaPromptResponse('{"systemPrompt": ')).toMatchObject({ ok: false, reason: expect.stringMatching(/holds no JSON object|not valid JSON/) as unknown });
    expect(parseMetaPromptResponse('{"systemPrompt": "too short"}')).toMatchObject({ ok: false, reason: expect.stringMatching(/^the answer does not have the expected shape: systemPrompt/) as unknown });
    expect(parseMetaPromptResponse('{"prompt": "Answer the question in one precise sentence."}')).toMatchObject({ ok: false });
  });

  it('a candidate becomes a valid prompt experiment proposal (current vs candidate), never applied by itself', () => {
    const p = promptExperimentProposal({
      reportId: 'r-1',
      taskType: 'summarize',
      currentSystemPrompt: null,
      candidate: { systemPrompt: 'Summarise in three bullet points, facts only.', rationale: 'lengths varied' },
      lowAgreementCount: 42,
      settings: { trafficShare: 0.1, samplesPerVariant: 400, model: 'openai:gpt-4o-mini' },
    });
    expect(p).toMatchObject({ kind: 'prompt_experiment', target: 'prompt:summarize', confidence: 0, dataPoints: 42 });
    if (p.change.type !== 'experiment') throw new Error('expected an experiment change');
    const parsed = ExperimentInputSchema.parse(p.change.experiment);
    expect(parsed).toMatchObject({ kind: 'prompt_template', taskType: 'summarize', trafficShare: 0.1, minSamples: 400, createdBy: 'improvement:r-1' });
    expect(parsed.variants).toEqual([
      { name: 'current', share: 0.5, config: { systemPrompt: null } },
      { name: 'candidate', share: 0.5, config: { systemPrompt: 'Summarise in three bullet points, facts only.' } },
    ]);
    expect(parsed.id).toMatch(/^prompt-summarize-[0-9a-f]{8}$/);
    expect(decide({ ...p, confidence: 1, dataPoints: 1e6 }, { minDataPoints: 1, autoApplyThreshold: 0 })).toBe('pending');
  });
});
