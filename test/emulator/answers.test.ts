import { describe, expect, it } from 'vitest';
import { approxTokens, arithmetic, claimsFor, emulatedAnswer, unitHash } from '../../src/emulator/answers';

describe('emulated answers', () => {
  it('computes simple arithmetic', () => {
    expect(arithmetic('What is 17 * 23?')).toBe(391);
    expect(arithmetic('Compute (2 + 3) * 4 please')).toBe(20);
    expect(arithmetic('What is 12 divided by 4?')).toBe(3);
    expect(arithmetic('what is 7 times 6')).toBe(42);
    expect(arithmetic('What is -5 + 2.5?')).toBe(-2.5);
    expect(arithmetic('Tell me about Temporal workflows')).toBeNull();
    expect(arithmetic('Released in 2024')).toBeNull();
  });

  it('an expression ending a sentence with a full stop is still computed', () => {
    expect(arithmetic('What is 17 * 23.')).toBe(391);
    expect(arithmetic('Compute 2.5 * 4.')).toBe(10);
    expect(arithmetic('Compute (2 + 3) * 4. Then stop.')).toBe(20);
    expect(arithmetic('Hello. 6 / 4.')).toBe(1.5);
    // A decimal point that starts a number is not a full stop: ".5" is not read as "5".
    expect(arithmetic('What is .5 + 1?')).toBeNull();
    expect(claimsFor('What is 17 * 23.').correct).toBe('the answer is 391');
  });

  it('marks every answer as coming from the emulator and is deterministic', () => {
    const a = emulatedAnswer({ model: 'gpt-4o-mini', prompt: 'Why do distributed systems need consensus?' });
    expect(a.text.startsWith('[emulator:gpt-4o-mini] ')).toBe(true);
    expect(emulatedAnswer({ model: 'gpt-4o-mini', prompt: 'Why do distributed systems need consensus?' })).toEqual(a);
    expect(a.confidence).toBeGreaterThan(0);
    expect(a.confidence).toBeLessThanOrEqual(1);
  });

  it('correct answers are paraphrases across models; wrong ones differ in substance', () => {
    const prompt = 'What is 17 * 23?';
    const right = ['gpt-4o-mini', 'claude-haiku-4-5', 'gemini-2.0-flash'].map((model) => emulatedAnswer({ model, prompt, force: 'correct' }));
    for (const r of right) expect(r.text).toContain('391');
    expect(new Set(right.map((r) => r.text.replace(/^\[emulator:[^\]]+\] /, ''))).size).toBeGreaterThan(1); // different styles
    const wrong = emulatedAnswer({ model: 'gpt-4o', prompt, force: 'wrong' });
    expect(wrong.correct).toBe(false);
    expect(wrong.text).not.toContain('391');
    expect(wrong.confidence).toBeLessThan(right[0]?.confidence ?? 1);

    const claims = claimsFor('Why does caching improve database latency?');
    expect(claims.correct).toContain('caching');
    expect(new Set(claims.wrong).size).toBe(claims.wrong.length);
    expect(claims.wrong).not.toContain(claims.correct);
  });

  it('answers correctly with probability accuracy, per (model, prompt)', () => {
    const prompts = Array.from({ length: 400 }, (_, i) => `What is ${i} + ${i * 3}?`);
    const share = (model: string, accuracy?: number): number =>
      prompts.filter((prompt) => emulatedAnswer({ model, prompt, ...(accuracy === undefined ? {} : { accuracy }) }).correct).length / prompts.length;
    expect(share('m1')).toBeGreaterThan(0.78);
    expect(share('m1')).toBeLessThan(0.92);
    expect(share('m1', 1)).toBe(1);
    expect(share('m1', 0)).toBe(0);
    // Which prompts a model gets wrong depends on the model.
    const wrongSet = (model: string): string => prompts.filter((prompt) => !emulatedAnswer({ model, prompt }).correct).join('|');
    expect(wrongSet('m1')).not.toBe(wrongSet('m2'));
  });

  it('hashes stably into [0,1) and counts tokens as ceil(chars/4)', () => {
    expect(unitHash('a', 1)).toBe(unitHash('a', 1));
    expect(unitHash('a', 1)).not.toBe(unitHash('a', 2));
    expect(approxTokens('')).toBe(0);
    expect(approxTokens('abcde')).toBe(2);
  });
});
