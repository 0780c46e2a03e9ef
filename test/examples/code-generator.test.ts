/**
 * The code generation example end to end on the test Temporal server: a worker of its own, code,
 * then tests whose prompt holds the code, then a review; every answer with its metadata, routed by
 * the example's rules. Once as a function, once as `npm run example:code-generator`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { OrchestrationMetadata } from '../../client';
import { codeGeneratorConfig, formatCodeGeneratorRun, runCodeGenerator, type CodeGeneratorRun } from '../../examples/code-generator/code-generator';
import { createMemoryStore } from '../../src/memory/repository';
import { DefaultComplexityEvaluator } from '../../src/routing/complexity';
import { connectTestTemporal } from '../helpers/temporal';
import { exampleEnvironment, runNpmExample } from './run-example';

const dir = mkdtempSync(join(tmpdir(), 'example-codegen-'));
const instance = randomUUID().slice(0, 8);

afterAll(async () => {
  // The example's routing-policy workflow lives on; this test's private one is ended.
  const temporal = await connectTestTemporal('example-codegen-cleanup');
  try {
    await temporal.client.workflow
      .getHandle(`routing-policy-example-code-generator-${instance}`)
      .terminate('test done')
      .catch(() => undefined);
  } finally {
    await temporal.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function expectMetadata(m: OrchestrationMetadata, workflowId: string): void {
  expect(m.workflowId).toBe(workflowId);
  expect(m.userId).toBe('code_generator');
  expect(m.providersUsed.length).toBeGreaterThan(0);
  expect(m.providers.filter((p) => p.status === 'succeeded').length).toBe(m.providersUsed.length);
  expect(m.costUsd).toBeGreaterThan(0); // emulated calls are priced like real ones (config.yaml pricing)
  expect(m.processingTimeMs).toBeGreaterThan(0);
}

describe('examples/code-generator', () => {
  it('generates code, then tests from that code and a review, each with its metadata and the example’s route', { timeout: 120_000 }, async () => {
    const databaseUrl = `file:${join(dir, 'fn.db')}`;
    const runId = `codegen-test-${instance}`;
    const run = await runCodeGenerator({ description: 'A function to parse CSV files with error handling', language: 'python', runId, databaseUrl, environment: exampleEnvironment(), installLogger: false, instance });
    const { code, tests, review } = run.result;
    if (!tests || !review) throw new Error('tests and review were asked for');

    // Code: medium by the default evaluator, so the example's own codegen-medium rule (not in config.yaml): two providers agree.
    expect(new DefaultComplexityEvaluator().evaluate(code.prompt, { taskType: 'code_generation', threshold: 0.7 }).complexity).toBe('medium');
    expect(codeGeneratorConfig().routing.rules.find((r) => r.id === 'codegen-medium')).toBeDefined();
    expectMetadata(code.metadata, `llm-request-${runId}-code`);
    expect(code.metadata).toMatchObject({ taskType: 'code_generation', complexity: 'medium', routingRule: 'codegen-medium', consensusApplied: true });
    // Both of the rule's providers answered; low agreement may have asked one more (escalation).
    expect(code.metadata.providersUsed.slice(0, 2).sort()).toEqual(['anthropic', 'openai']);
    expect(code.metadata.providersUsed).toHaveLength(2 + code.metadata.escalated);
    expect(code.metadata.confidence).toEqual(expect.any(Number));
    expect(code.response.length).toBeGreaterThan(0);

    // Tests: a second request whose prompt holds the first answer; the testgen-any rule (one provider).
    expect(tests.prompt).toContain(code.response);
    expectMetadata(tests.metadata, `llm-request-${runId}-tests`);
    expect(tests.metadata).toMatchObject({ taskType: 'test_generation', routingRule: 'testgen-any', providersUsed: ['anthropic'], consensusApplied: false });
    expect(tests.response.length).toBeGreaterThan(0);
    // ... and that is what the worker was asked: the stored interaction holds the code in its prompt.
    const memory = createMemoryStore(databaseUrl);
    try {
      const stored = await memory.getInteraction(tests.metadata.workflowId);
      expect(stored?.prompt).toContain(code.response);
      expect(stored?.response).toBe(tests.response);
    } finally {
      await memory.close();
    }

    // Review: the code_review rule, consensus of two.
    expectMetadata(review.metadata, `llm-request-${runId}-review`);
    expect(review.metadata).toMatchObject({ taskType: 'code_review', routingRule: 'review-any', consensusApplied: true });
    expect(review.prompt).toContain(code.response);

    // Honest about the emulator: every provider was emulated (no keys) and the output says so.
    expect(run.emulated.sort()).toEqual([...new Set([code, tests, review].flatMap((s) => s.metadata.providersUsed))].sort());
    expect(code.response).toMatch(/^\[emulator:/);
    const printed = formatCodeGeneratorRun(run).join('\n');
    expect(printed).toContain('local provider emulator');
    for (const section of ['Generated code', 'Generated tests', 'Review', 'Metadata']) expect(printed).toContain(section);
    for (const step of [code, tests, review]) expect(printed).toContain(step.metadata.workflowId);
    // With real providers (keys set) the note is not printed.
    expect(formatCodeGeneratorRun({ ...run, emulated: [] }).join('\n')).not.toContain('local provider emulator');
  });

  it('runs as `npm run example:code-generator` (JSON output, tests without review)', { timeout: 180_000 }, async () => {
    const stdout = await runNpmExample('code-generator', ['--language', 'go', '--no-review', '--json', '--database-url', `file:${join(dir, 'npm.db')}`]);
    const run = JSON.parse(stdout) as CodeGeneratorRun;
    expect(run.result.language).toBe('go');
    expect(run.result.review).toBeNull();
    expect(run.result.code.prompt).toContain('Generate go code');
    expect(run.result.code.metadata).toMatchObject({ taskType: 'code_generation', routingRule: 'codegen-medium' });
    expect(run.result.tests?.prompt).toContain(run.result.code.response);
    expect(run.result.tests?.metadata).toMatchObject({ taskType: 'test_generation', routingRule: 'testgen-any' });
    expect(run.emulated.length).toBeGreaterThan(0);
  });
});
