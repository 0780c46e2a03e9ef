/**
 * The business automation agent end to end on the test Temporal server: the document evaluator,
 * a plugin the worker discovers in examples/business-agent/plugins/, decides the complexity of each analysis, that decision picks the
 * route, the four analyses run with consensus, and the report combining them is printed and written.
 * A contract as a function (complex), a short memo as `npm run example:business-agent` (simple).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ANALYSES, businessAgentConfig, formatBusinessAgentRun, runBusinessAgent, type BusinessAgentRun } from '../../examples/business-agent/business-agent';
import { DocumentComplexityEvaluator } from '../../examples/business-agent/document-evaluator';
import { DefaultComplexityEvaluator } from '../../src/routing/complexity';
import { connectTestTemporal } from '../helpers/temporal';
import { exampleEnvironment, runNpmExample } from './run-example';

const DOCUMENTS = join(__dirname, '..', '..', 'examples', 'business-agent', 'documents');
const dir = mkdtempSync(join(tmpdir(), 'example-business-'));
const instance = randomUUID().slice(0, 8);
const threshold = businessAgentConfig().routing.complexity_threshold;

afterAll(async () => {
  const temporal = await connectTestTemporal('example-business-cleanup');
  try {
    await temporal.client.workflow
      .getHandle(`routing-policy-example-business-agent-${instance}`)
      .terminate('test done')
      .catch(() => undefined);
  } finally {
    await temporal.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('examples/business-agent', () => {
  it('routes a contract by the document evaluator’s decision, analyses it four ways with consensus and writes the report', { timeout: 120_000 }, async () => {
    const document = readFileSync(join(DOCUMENTS, 'supplier-agreement.md'), 'utf8');
    const outDir = join(dir, 'out');
    const runId = `business-test-${instance}`;
    const run = await runBusinessAgent({ document, documentName: 'supplier-agreement.md', outDir, runId, databaseUrl: `file:${join(dir, 'fn.db')}`, environment: exampleEnvironment(), installLogger: false, instance });

    // The evaluator came in as a plugin the worker found in examples/business-agent/plugins/.
    expect(run.plugins).toEqual(['document-evaluator@1.0.0 (folder)']);
    expect(Object.keys(run.analyses).sort()).toEqual([...ANALYSES].sort());
    for (const type of ANALYSES) {
      const { prompt, response, metadata } = run.analyses[type];
      // The custom evaluator's decision is the one the workflow planned with: same level, same score
      // (the default evaluator would say medium for this prompt, with another score).
      const custom = new DocumentComplexityEvaluator().evaluate(prompt, { taskType: 'document_analysis', threshold });
      const fallback = new DefaultComplexityEvaluator().evaluate(prompt, { taskType: 'document_analysis', threshold });
      expect(custom.complexity).toBe('complex');
      expect(fallback.complexity).not.toBe('complex');
      expect(metadata).toMatchObject({ taskType: 'document_analysis', complexity: custom.complexity, complexityScore: custom.score, workflowId: `llm-request-${runId}-${type}` });
      // ... and picked the route: the complex rule's three larger models, all answering, in consensus.
      expect(metadata.routingRule).toBe('documents-complex');
      // (low agreement may have asked more: escalation)
      expect(metadata.providers.filter((p) => p.status === 'succeeded').slice(0, 3).map((p) => p.model).sort()).toEqual(['claude-sonnet-4-6', 'gemini-2.5-pro', 'gpt-4o']);
      expect(metadata.providersUsed).toHaveLength(3 + metadata.escalated);
      expect(metadata.consensusApplied).toBe(true);
      expect(metadata.confidence).toEqual(expect.any(Number));
      expect(metadata.costUsd).toBeGreaterThan(0);
      expect(response.length).toBeGreaterThan(0);
    }

    // The report: one request over the four analyses' answers.
    expect(run.report.metadata).toMatchObject({ taskType: 'report_generation', routingRule: 'reports-any', providersUsed: ['anthropic'], workflowId: `llm-request-${runId}-report` });
    for (const type of ANALYSES) expect(run.report.prompt).toContain(JSON.stringify(run.analyses[type].response));
    expect(run.reportPath).toBe(join(outDir, `${runId}-report.md`));
    const written = readFileSync(run.reportPath, 'utf8');
    expect(written).toContain(run.report.response);
    for (const type of ANALYSES) expect(written).toContain(run.analyses[type].response);
    expect(written).toContain('local provider emulator');

    expect(run.emulated.sort()).toEqual(['anthropic', 'google', 'openai']);
    const printed = formatBusinessAgentRun(run).join('\n');
    expect(printed).toContain('complex');
    expect(printed).toContain('Plugins: document-evaluator@1.0.0');
    expect(printed).toContain('local provider emulator');
    expect(printed).toContain(run.reportPath);
    for (const type of ANALYSES) expect(printed).toContain(`Analysis: ${type}`);
  });

  it('runs as `npm run example:business-agent`: a short memo is simple and takes the two-provider route', { timeout: 180_000 }, async () => {
    const outDir = join(dir, 'npm-out');
    const stdout = await runNpmExample('business-agent', ['--document', join(DOCUMENTS, 'team-update.md'), '--out-dir', outDir, '--json', '--database-url', `file:${join(dir, 'npm.db')}`]);
    const run = JSON.parse(stdout) as BusinessAgentRun;
    expect(run.plugins).toEqual(['document-evaluator@1.0.0 (folder)']);
    for (const type of ANALYSES) {
      expect(run.analyses[type].metadata).toMatchObject({ complexity: 'simple', routingRule: 'documents-simple', consensusApplied: true });
      expect(run.analyses[type].metadata.providersUsed.slice(0, 2).sort()).toEqual(['anthropic', 'openai']);
    }
    expect(run.report.response.length).toBeGreaterThan(0);
    expect(run.reportPath.startsWith(outDir)).toBe(true);
    expect(existsSync(run.reportPath)).toBe(true);
  });
});
