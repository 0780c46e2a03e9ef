/**
 * Record workflow histories from real runs (real worker, emulator, SQLite) into
 * test/histories/, for the replay test. Run with `npm run record-histories` after a change to
 * workflow code that is meant to be compatible; never edit the JSON by hand. It writes
 * encrypted-<case>.json: today's workflow code, with payload encryption on (as every deployment
 * runs) under the public fixture key test/histories/payload-keys. The plain v<N>-<case> files are
 * histories of earlier workflow versions, recorded before payload encryption existed: they stay,
 * so old runs keep replaying (and prove a plain history replays with the codec on). Give case
 * names to record only those: `npm run record-histories -- stream-single-provider`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalStreamBus } from '../src/streaming/bus';
import type { OrchestrateRequest } from '../src/types';
import { startStack } from '../test/helpers/stack';
import { HISTORY_FIXTURE_KEYS_FILE } from '../test/helpers/temporal';

/** `again`: start the same workflow id a second time after the first run completed (as a client with the default reuse policy would) and record that run. */
const cases: { name: string; request: OrchestrateRequest; again?: Partial<OrchestrateRequest> }[] = [
  { name: 'consensus-three-providers', request: { prompt: 'What is 17 * 23?', taskType: 'question_answering', userId: 'recorder', requireConsensus: true } },
  { name: 'retry-then-success', request: { prompt: 'What is 6 * 7? [[emulate:500x1]]', taskType: 'question_answering', userId: 'recorder', providers: ['openai'] } },
  {
    name: 'failover-after-auth-error',
    request: { prompt: 'Name a primary color. [[emulate@claude-haiku-4-5:401]]', taskType: 'question_answering', userId: 'recorder', providers: ['anthropic', 'google'], minProviders: 1 },
  },
  { name: 'insufficient-responses', request: { prompt: 'Hello [[emulate:401]]', taskType: 'question_answering', userId: 'recorder', providers: ['anthropic'] } },
  {
    name: 'early-stop-cancels-straggler',
    request: { prompt: 'What is 12 * 12? [[emulate@gemini-2.0-flash:latency=4000]]', taskType: 'question_answering', userId: 'recorder', requireConsensus: true },
  },
  { name: 'performance-based-route', request: { prompt: 'Name a planet.', taskType: 'question_answering', userId: 'recorder', requireConsensus: false } },
  { name: 'second-run-returns-stored-result', request: { prompt: 'What is 5 * 5?', taskType: 'question_answering', userId: 'recorder', providers: ['openai'] }, again: {} },
  { name: 'second-run-idempotency-conflict', request: { prompt: 'What is 5 * 6?', taskType: 'question_answering', userId: 'recorder', providers: ['openai'] }, again: { userId: 'someone-else' } },
  // Patch request-v4-conversations: the turns go to every provider call and into the stored interaction.
  {
    name: 'conversation-turns',
    request: {
      messages: [
        { role: 'system', content: 'Answer with the number.' },
        { role: 'user', content: 'What is 2 + 3?' },
        { role: 'assistant', content: '5' },
        { role: 'user', content: 'What is 17 * 23?' },
      ],
      conversationId: 'recorder-conversation',
      taskType: 'question_answering',
      userId: 'recorder',
      requireConsensus: true,
    },
  },
  // Patch request-v4-stream: the provider call of a `stream: true` request streams (the worker has a stream bus).
  { name: 'stream-single-provider', request: { prompt: 'What is 6 * 7?', taskType: 'question_answering', userId: 'recorder', providers: ['openai'], stream: true } },
  // Patch request-v5-local-calls: a route with `provider_calls: local` (LOCAL_CALL_RULES) calls its providers as local activities.
  { name: 'local-calls-consensus', request: { prompt: 'What is 17 * 23?', taskType: 'latency_consensus', userId: 'recorder', minProviders: 3 } },
  { name: 'local-calls-failover', request: { prompt: 'Name a primary color. [[emulate@claude-haiku-4-5:500x1]] [[emulate@claude-haiku-4-5:401]]', taskType: 'latency_failover', userId: 'recorder' } },
];

/** Routes in `local` provider-call mode, for the local-calls-* cases (every other case keeps the default, activity). */
const LOCAL_CALL_RULES = [
  { id: 'recorder-local-consensus', task_type: 'latency_consensus', complexity: 'any' as const, providers: ['openai', 'anthropic', 'google'], require_consensus: true, fallback: [], provider_calls: 'local' as const },
  { id: 'recorder-local-failover', task_type: 'latency_failover', complexity: 'any' as const, providers: ['anthropic'], require_consensus: false, fallback: ['google'], provider_calls: 'local' as const },
];

async function main(): Promise<void> {
  // Every client and worker of the stack encrypts with the fixture key (test/helpers/temporal.ts testDataConverter).
  process.env['PAYLOAD_KEYS_FILE'] = HISTORY_FIXTURE_KEYS_FILE;
  delete process.env['PAYLOAD_KEYS'];
  delete process.env['PAYLOAD_ENCRYPTION'];
  // performance_based: the recorded plans carry a routing decision.
  // A stream bus, as the gateway's co-located worker has: streamed calls publish their tokens to it.
  const stack = await startStack({ label: 'recorder', streamBus: createLocalStreamBus(), configure: (c) => ({ ...c, routing: { ...c.routing, default_strategy: 'performance_based', rules: [...c.routing.rules, ...LOCAL_CALL_RULES] } }) });
  try {
    // Case names given on the command line: record only those (`npm run record-histories -- conversation-turns`).
    const only = process.argv.slice(2);
    for (const c of cases.filter((k) => only.length === 0 || only.includes(k.name))) {
      const { workflowId } = await stack.client.start({ ...c.request, requestId: `history-${c.name}-${Date.now()}` });
      await stack.client.getResult(workflowId).catch(() => undefined);
      let runId: string[] = [];
      if (c.again) {
        // The project's client never runs a request id twice; a raw start with the default reuse policy does.
        const second = await stack.temporal.client.workflow.start('orchestrateRequest', { taskQueue: stack.temporal.taskQueue, workflowId, args: [{ ...c.request, ...c.again }] });
        await second.result().catch(() => undefined);
        runId = ['--run-id', second.firstExecutionRunId];
      }
      // The Temporal CLI writes the standard JSON history format every SDK's replayer reads.
      const json = execFileSync(process.env['TEMPORAL_CLI'] ?? 'temporal', ['workflow', 'show', '--workflow-id', workflowId, ...runId, '--address', stack.temporal.address, '--output', 'json'], { encoding: 'utf8' });
      const file = join(__dirname, '..', 'test', 'histories', `encrypted-${c.name}.json`);
      writeFileSync(file, json.endsWith('\n') ? json : `${json}\n`);
      const events = (JSON.parse(json) as { events?: unknown[] }).events?.length ?? 0;
      console.log(`recorded ${workflowId} -> ${file} (${events} events)`);
    }
  } finally {
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
