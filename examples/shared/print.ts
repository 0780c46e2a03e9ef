/** Readable output shared by the example applications. */
import type { OrchestrationMetadata } from '../../client';

/** One line a request: rule, complexity, providers, consensus, confidence, cost, latency, workflow id. */
export function metadataLine(label: string, m: OrchestrationMetadata): string {
  const escalated = m.escalated > 0 ? `, +${m.escalated} escalated` : '';
  const consensus = m.consensusApplied ? `${m.consensusStrategy} (agreement ${m.agreement ?? '-'}${escalated}${m.lowConfidence ? ', LOW CONFIDENCE' : ''})` : 'one answer';
  return [
    label.padEnd(10),
    `rule ${m.routingRule ?? 'default'}`.padEnd(22),
    `${m.complexity} ${m.complexityScore.toFixed(3)}`.padEnd(15),
    `providers ${m.providersUsed.join(', ') || '-'}`.padEnd(38),
    `consensus ${consensus}`.padEnd(58),
    `confidence ${m.confidence ?? '-'}`.padEnd(17),
    `$${m.costUsd.toFixed(6)}`.padEnd(11),
    `${m.processingTimeMs} ms`.padEnd(9),
    m.workflowId,
  ].join(' ');
}

/** Each provider call of a request: model, status, tokens, latency, cost. */
export function providerLines(m: OrchestrationMetadata): string[] {
  return m.providers.map(
    (p) => `             ${`${p.provider}:${p.model}`.padEnd(32)} ${p.status.padEnd(9)} ${`${p.tokensIn}/${p.tokensOut} tokens`.padEnd(16)} ${`${Math.round(p.latencyMs)} ms`.padEnd(8)} $${p.costUsd.toFixed(6)}`,
  );
}

export function heading(title: string): string {
  return `\n${title}\n${'-'.repeat(title.length)}`;
}

/** Said whenever an emulated provider answered: its text is a development answer, not a model's. */
export function emulatorNote(emulated: readonly string[]): string | null {
  if (emulated.length === 0) return null;
  return (
    `note: ${[...new Set(emulated)].join(', ')} answered through the local provider emulator (no API key set): ` +
    'these are development answers, deterministic text built from the prompt, not code or analysis from a real model. ' +
    'Set OPENAI_API_KEY / ANTHROPIC_API_KEY / GOOGLE_API_KEY for real answers.'
  );
}
