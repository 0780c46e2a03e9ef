/**
 * The business automation agent of the product description: a custom complexity evaluator for
 * document analysis (a plugin the worker discovers in ./plugins), four analyses of a document with
 * consensus (summary, key points, sentiment, compliance), and a report combining them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrchestratorClient } from '../../client';
import type { Config } from '../../src/config/schema';
import { PROJECT_ROOT } from '../../src/project-root';
import { configWithRules, type RoutingRuleInput } from '../shared/config';
import { startExampleWorker, type ExampleWorkerOptions, type Step } from '../shared/example-worker';
import { emulatorNote, heading, metadataLine, providerLines } from '../shared/print';

export type { Step };

/**
 * Applied on top of config.yaml's rules. Every analysis needs agreement; how many and which
 * models depends on the complexity the document evaluator finds.
 */
export const DOCUMENT_RULES: RoutingRuleInput[] = [
  { id: 'documents-simple', task_type: 'document_analysis', complexity: 'simple', providers: ['openai', 'anthropic'], require_consensus: true, min_providers: 2 },
  { id: 'documents-medium', task_type: 'document_analysis', complexity: 'medium', providers: ['openai', 'anthropic', 'google'], require_consensus: true, min_providers: 2 },
  // Contracts and regulated documents: the larger models, all three must answer.
  {
    id: 'documents-complex',
    task_type: 'document_analysis',
    complexity: 'complex',
    providers: ['openai:gpt-4o', 'anthropic:claude-sonnet-4-6', 'google:gemini-2.5-pro'],
    require_consensus: true,
    min_providers: 3,
  },
  // The report: one writer, another when it fails.
  { id: 'reports-any', task_type: 'report_generation', complexity: 'any', providers: ['anthropic'], fallback: ['openai'] },
];

export function businessAgentConfig(configPath = join(PROJECT_ROOT, 'config.yaml')): Config {
  return configWithRules(configPath, DOCUMENT_RULES);
}

export const ANALYSES = ['summary', 'key_points', 'sentiment', 'compliance'] as const;
export type AnalysisType = (typeof ANALYSES)[number];

const INSTRUCTIONS: Record<AnalysisType, string> = {
  summary: 'Provide a concise summary of this document.',
  key_points: 'Extract the key points and action items from this document.',
  sentiment: 'Analyze the sentiment and tone of this document.',
  compliance: 'Review this document for compliance issues.',
};

export class BusinessAutomationAgent {
  constructor(private readonly client: OrchestratorClient) {}

  /** One analysis with multi-model consensus; the document goes between tags the evaluator reads. */
  async analyzeDocument(document: string, type: AnalysisType, requestId: string): Promise<Step> {
    const prompt = `${INSTRUCTIONS[type]}\n\n<document>\n${document}\n</document>`;
    const result = await this.client.processRequest({ prompt, taskType: 'document_analysis', userId: 'business_agent', requireConsensus: true, requestId });
    return { prompt, response: result.response, metadata: result.metadata };
  }

  /** The four analyses, in parallel (four request workflows). */
  async analyzeAll(document: string, runId: string): Promise<Record<AnalysisType, Step>> {
    const steps = await Promise.all(ANALYSES.map((type) => this.analyzeDocument(document, type, `${runId}-${type}`)));
    return Object.fromEntries(ANALYSES.map((type, i) => [type, steps[i]!])) as Record<AnalysisType, Step>;
  }

  /** A report from structured data (here: the analyses). */
  async generateReport(data: unknown, reportType: string, requestId: string): Promise<Step> {
    const prompt = `Generate a ${reportType} report based on this data:\n\n${JSON.stringify(data, null, 2)}\n\nRequirements:\n- Professional formatting\n- Clear insights and recommendations\n- Executive summary\n- Data-driven conclusions`;
    const result = await this.client.processRequest({ prompt, taskType: 'report_generation', userId: 'business_agent', requestId });
    return { prompt, response: result.response, metadata: result.metadata };
  }
}

export interface BusinessAgentOptions extends Omit<ExampleWorkerOptions, 'name' | 'config' | 'setup' | 'pluginDir'> {
  document: string;
  /** Shown in the report (e.g. the file name). */
  documentName: string;
  /** Default compliance_review. */
  reportType?: string;
  /** The report is written to `<outDir>/<runId>-report.md`. */
  outDir: string;
  /** Prefix of the request ids (business ids). Default: a new one. */
  runId?: string;
}

export interface BusinessAgentRun {
  documentName: string;
  reportType: string;
  analyses: Record<AnalysisType, Step>;
  report: Step;
  reportPath: string;
  /** Providers that the local emulator served in any request. */
  emulated: string[];
  /** The plugins the worker loaded: `<name>@<version> (<origin>)`. */
  plugins: string[];
}

/** Everything `npm run example:business-agent` does but printing: a worker here, the requests, the report file, stop. */
export async function runBusinessAgent(options: BusinessAgentOptions): Promise<BusinessAgentRun> {
  const reportType = options.reportType ?? 'compliance_review';
  const runId = options.runId ?? `business-${Date.now().toString(36)}`;
  const worker = await startExampleWorker({
    name: 'business-agent',
    config: businessAgentConfig(),
    // The worker scans ./plugins and registers the document evaluator (plugins/document-evaluator.ts).
    pluginDir: __dirname,
    ...(options.databaseUrl !== undefined && { databaseUrl: options.databaseUrl }),
    ...(options.environment !== undefined && { environment: options.environment }),
    ...(options.installLogger !== undefined && { installLogger: options.installLogger }),
    ...(options.instance !== undefined && { instance: options.instance }),
  });
  try {
    const agent = new BusinessAutomationAgent(worker.client);
    const analyses = await agent.analyzeAll(options.document, runId);
    const data = {
      document: options.documentName,
      analyses: Object.fromEntries(ANALYSES.map((type) => [type, { answer: analyses[type].response, confidence: analyses[type].metadata.confidence, providers: analyses[type].metadata.providersUsed }])),
    };
    const report = await agent.generateReport(data, reportType, `${runId}-report`);
    const steps = [...ANALYSES.map((t) => analyses[t]), report];
    const emulated = [...new Set(steps.flatMap((s) => worker.emulatedIn(s)))];
    const plugins = worker.runtime.plugins.map((p) => `${p.name}@${p.version} (${p.origin})`);
    const run = { documentName: options.documentName, reportType, analyses, report, reportPath: join(options.outDir, `${runId}-report.md`), emulated, plugins };
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(run.reportPath, reportMarkdown(run));
    return run;
  } finally {
    await worker.close();
  }
}

/** The report file: the report, then each analysis with its metadata. */
export function reportMarkdown(run: Omit<BusinessAgentRun, 'reportPath'>): string {
  const note = emulatorNote(run.emulated);
  const analyses = ANALYSES.map((type) => `### ${type}\n\n${run.analyses[type].response}\n\n\`${metadataLine(type, run.analyses[type].metadata)}\``);
  return [`# ${run.reportType} report: ${run.documentName}`, ...(note ? [`> ${note}`] : []), '## Report', run.report.response, `\`${metadataLine('report', run.report.metadata)}\``, '## Analyses', ...analyses, ''].join('\n\n');
}

/** The printed form: each analysis, the report, one metadata line per request, where the report went. */
export function formatBusinessAgentRun(run: BusinessAgentRun): string[] {
  const first = run.analyses.summary.metadata;
  const lines = [
    `Business agent: ${run.reportType} of ${run.documentName}`,
    `Plugins: ${run.plugins.join(', ') || 'none'}`,
    `Document complexity (document evaluator): ${first.complexity}, score ${first.complexityScore} -> rule ${first.routingRule ?? 'default'}`,
  ];
  const note = emulatorNote(run.emulated);
  if (note) lines.push(note);
  for (const type of ANALYSES) lines.push(heading(`Analysis: ${type}`), run.analyses[type].response);
  lines.push(heading('Report'), run.report.response, heading('Metadata'));
  for (const type of ANALYSES) lines.push(metadataLine(type, run.analyses[type].metadata), ...providerLines(run.analyses[type].metadata));
  lines.push(metadataLine('report', run.report.metadata), ...providerLines(run.report.metadata));
  lines.push(`\nReport written to ${run.reportPath}`);
  return lines;
}
