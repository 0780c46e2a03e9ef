/**
 * The code generation tool of the product description: routing rules for code generation, test
 * generation and code review; code first, then tests for that code (and a review of it), each a
 * durable request workflow with its own metadata.
 */
import { join } from 'node:path';
import type { OrchestratorClient, OrchestrationResult } from '../../client';
import type { Config } from '../../src/config/schema';
import { PROJECT_ROOT } from '../../src/project-root';
import { configWithRules, type RoutingRuleInput } from '../shared/config';
import { startExampleWorker, type ExampleWorkerOptions, type Step } from '../shared/example-worker';

export type { Step };
import { emulatorNote, heading, metadataLine, providerLines } from '../shared/print';

/**
 * Applied on top of config.yaml's rules (same id, or same task type and complexity, replaces).
 * Complex code generation keeps config.yaml's `codegen-complex` (three providers, consensus, a
 * gpt-4o fallback).
 */
export const CODE_RULES: RoutingRuleInput[] = [
  // Simple code: one fast model, no consensus.
  { id: 'codegen-simple', task_type: 'code_generation', complexity: 'simple', providers: ['openai'], require_consensus: false },
  // Most real requests: two models must agree.
  { id: 'codegen-medium', task_type: 'code_generation', complexity: 'medium', providers: ['openai', 'anthropic'], require_consensus: true, min_providers: 2 },
  // Tests: one model, another when it fails.
  { id: 'testgen-any', task_type: 'test_generation', complexity: 'any', providers: ['anthropic'], fallback: ['openai'] },
  // Reviews: two models and consensus, whatever the complexity.
  { id: 'review-any', task_type: 'code_review', complexity: 'any', providers: ['openai', 'anthropic'], require_consensus: true },
];

export function codeGeneratorConfig(configPath = join(PROJECT_ROOT, 'config.yaml')): Config {
  return configWithRules(configPath, CODE_RULES);
}

export interface GenerateCodeOptions {
  description: string;
  /** Default python. */
  language?: string;
  /** Generate unit tests for the code (a second request whose prompt holds the first answer). Default true. */
  includeTests?: boolean;
  /** Review the code (code_review: two providers and consensus). Default true. */
  review?: boolean;
  /** Prefix of the request ids (business ids: the workflow of step `code` is `llm-request-<runId>-code`). Default: a new one. */
  runId?: string;
}

export interface GeneratedCode {
  description: string;
  language: string;
  code: Step;
  tests: Step | null;
  review: Step | null;
}

export class CodeGenerator {
  constructor(private readonly client: OrchestratorClient) {}

  async generateCode(options: GenerateCodeOptions): Promise<GeneratedCode> {
    const language = options.language ?? 'python';
    const runId = options.runId ?? `codegen-${Date.now().toString(36)}`;
    const code = await this.ask(
      `${runId}-code`,
      'code_generation',
      `Generate ${language} code for: ${options.description}\n\nRequirements:\n- Clean, readable code\n- Proper error handling\n- Documentation/comments\n- Follow best practices`,
    );
    // Tests and review both start from the generated code; they run in parallel.
    const [tests, review] = await Promise.all([
      options.includeTests === false
        ? null
        : this.ask(
            `${runId}-tests`,
            'test_generation',
            `Generate comprehensive unit tests for this ${language} code:\n\n${code.response}\n\nRequirements:\n- Test edge cases\n- Use the usual testing framework for ${language}\n- Good test coverage`,
          ),
      options.review === false ? null : this.ask(`${runId}-review`, 'code_review', `Review this ${language} code for bugs, error handling and readability:\n\n${code.response}`),
    ]);
    return { description: options.description, language, code, tests, review };
  }

  private async ask(requestId: string, taskType: string, prompt: string): Promise<Step> {
    const result: OrchestrationResult = await this.client.processRequest({ prompt, taskType, userId: 'code_generator', requestId });
    return { prompt, response: result.response, metadata: result.metadata };
  }
}

export interface CodeGeneratorRun {
  result: GeneratedCode;
  /** Providers that the local emulator served in any step. */
  emulated: string[];
}

/** Everything `npm run example:code-generator` does but printing: a worker here, the requests, stop. */
export async function runCodeGenerator(options: GenerateCodeOptions & Omit<ExampleWorkerOptions, 'name' | 'config' | 'setup'>): Promise<CodeGeneratorRun> {
  const { databaseUrl, environment, installLogger, instance, ...request } = options;
  const worker = await startExampleWorker({
    name: 'code-generator',
    config: codeGeneratorConfig(),
    ...(databaseUrl !== undefined && { databaseUrl }),
    ...(environment !== undefined && { environment }),
    ...(installLogger !== undefined && { installLogger }),
    ...(instance !== undefined && { instance }),
  });
  try {
    const result = await new CodeGenerator(worker.client).generateCode(request);
    const steps = [result.code, result.tests, result.review].filter((s): s is Step => s !== null);
    const emulated = [...new Set(steps.flatMap((s) => worker.emulatedIn(s)))];
    return { result, emulated };
  } finally {
    await worker.close();
  }
}

/** The printed form: the code, the tests, the review, then one metadata line per request. */
export function formatCodeGeneratorRun({ result, emulated }: CodeGeneratorRun): string[] {
  const steps: [string, Step | null][] = [
    ['code', result.code],
    ['tests', result.tests],
    ['review', result.review],
  ];
  const lines = [`Code generator: ${result.language}, "${result.description}"`];
  const note = emulatorNote(emulated);
  if (note) lines.push(note);
  for (const [label, step] of steps) {
    if (!step) continue;
    lines.push(heading(label === 'code' ? 'Generated code' : label === 'tests' ? 'Generated tests' : 'Review'), step.response);
  }
  lines.push(heading('Metadata'));
  for (const [label, step] of steps) {
    if (!step) continue;
    lines.push(metadataLine(label, step.metadata), ...providerLines(step.metadata));
  }
  return lines;
}
