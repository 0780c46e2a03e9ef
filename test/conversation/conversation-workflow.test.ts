/**
 * A conversation end to end through the real stack (client, workflow, worker, activities, the
 * provider emulator, SQLite): the providers answer the last user turn in the context of the
 * earlier ones, the stored interaction keeps the turns and the conversation id, the response cache
 * keys on the whole conversation, and `conversations show` prints the conversation turn by turn
 * with each turn's consensus figures. Needs the test services (`npm test` provides them).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addConversationsCommands } from '../../client/conversations-cli';
import { createMemoryStore } from '../../src/memory/repository';
import type { ChatMessage } from '../../src/types';
import { REPO_ROOT } from '../helpers/config';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
const run = Date.now().toString(36);
const conversationId = `conv-${run}`;

beforeAll(async () => {
  stack = await startStack({
    label: 'conversation',
    configure: (c) => ({
      ...c,
      resilience: { ...c.resilience, cache: { ...c.resilience.cache, enabled: true } },
      // Every emulated model right every time: the answers below are checked by their numbers.
      emulator: { ...c.emulator, models: Object.fromEntries(Object.values(c.models).flatMap((m) => m.models.concat(m.default_model)).map((id) => [id, { accuracy: 1, faults: [] }])) },
    }),
  });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

const history: ChatMessage[] = [
  { role: 'system', content: 'Answer with the number.' },
  { role: 'user', content: 'What is 2 + 3?' },
  { role: 'assistant', content: '5' },
];
const base = { taskType: 'question_answering', userId: 'user-conversation', requireConsensus: true };

describe('a conversation through the workflow', () => {
  it('answers the last user turn and stores the turns and the conversation id; the cache tells histories apart', async () => {
    const first = await stack.client.processRequest({ ...base, prompt: 'What is 2 + 3?', conversationId, requestId: `conv-first-${run}` });
    expect(first.response).toMatch(/\b5\b/);

    const messages: ChatMessage[] = [...history, { role: 'user', content: 'What is 17 * 23?' }];
    const second = await stack.client.processRequest({ ...base, messages, conversationId, requestId: `conv-second-${run}` });
    expect(second.response).toContain('391');
    expect(second.metadata.cacheHit).toBe(false);
    expect(second.metadata.consensusApplied).toBe(true);

    const stored = await stack.runtime.memory.getInteraction(second.metadata.workflowId);
    expect(stored).toMatchObject({ prompt: 'What is 17 * 23?', messages, conversationId, systemPrompt: null, status: 'completed' });
    const firstStored = await stack.runtime.memory.getInteraction(first.metadata.workflowId);
    expect(firstStored?.conversationId).toBe(conversationId);
    expect(firstStored?.messages).toBeUndefined();

    // The same last question after another history is not the same request: no cached answer.
    const otherHistory: ChatMessage[] = [{ role: 'user', content: 'What is 4 + 4?' }, { role: 'assistant', content: '8' }, { role: 'user', content: 'What is 17 * 23?' }];
    const other = await stack.client.processRequest({ ...base, messages: otherHistory, requestId: `conv-other-${run}` });
    expect(other.metadata.cacheHit).toBe(false);
    // The same conversation again is: answered from the cache.
    const again = await stack.client.processRequest({ ...base, messages, requestId: `conv-again-${run}` });
    expect(again.metadata.cacheHit).toBe(true);
    expect(again.response).toBe(second.response);

    const turns = await stack.runtime.memory.listConversation(conversationId);
    expect(turns.map((t) => t.workflowId)).toEqual([first.metadata.workflowId, second.metadata.workflowId]);
  }, 120_000);

  it('conversations show prints each turn with its consensus figures, and --json the same turns', async () => {
    const lines: string[] = [];
    const program = new Command('orchestrator').exitOverride();
    addConversationsCommands(program, { connect: () => Promise.resolve(createMemoryStore(stack.databaseUrl)), out: (l) => lines.push(l) });
    await program.parseAsync(['node', 'orchestrator', 'conversations', 'show', conversationId]);
    const text = lines.join('\n');
    expect(text).toContain(`conversation ${conversationId}: 2 turn(s)`);
    expect(text).toMatch(/Turn 1 .*completed[\s\S]*user {9}What is 2 \+ 3\?[\s\S]*Turn 2 /);
    expect(text).toMatch(/Turn 2 [\s\S]*history {6}3 earlier message\(s\)[\s\S]*user {9}What is 17 \* 23\?[\s\S]*answer {7}.*391/);
    expect(text).toMatch(/consensus {4}\w+, confidence \d\.\d{3}, agreement \d\.\d{3}/);
    expect(text).toMatch(/providers {4}\w+, \w+/);

    lines.length = 0;
    await program.parseAsync(['node', 'orchestrator', 'conversations', 'show', conversationId, '--json']);
    const json = JSON.parse(lines.join('\n')) as { conversationId: string; turns: { turn: number; question: string; messages: unknown; consensus: { applied: boolean; confidence: number | null; strategy: string }; providersUsed: string[] }[] };
    expect(json.conversationId).toBe(conversationId);
    expect(json.turns.map((t) => [t.turn, t.question])).toEqual([
      [1, 'What is 2 + 3?'],
      [2, 'What is 17 * 23?'],
    ]);
    expect(json.turns[1]?.messages).toHaveLength(4);
    for (const t of json.turns) {
      expect(t.consensus.applied).toBe(true);
      expect(t.consensus.confidence).toEqual(expect.any(Number));
      expect(t.providersUsed.length).toBeGreaterThanOrEqual(2);
    }
  }, 60_000);

  it('conversations show refuses an unknown conversation with InvalidRequest naming it', async () => {
    const program = new Command('orchestrator').exitOverride();
    addConversationsCommands(program, { connect: () => Promise.resolve(createMemoryStore(stack.databaseUrl)), out: () => undefined });
    await expect(program.parseAsync(['node', 'orchestrator', 'conversations', 'show', `none-${run}`])).rejects.toMatchObject({ code: 'InvalidRequest', message: `no stored interactions for conversation "none-${run}"` });
  });

  it('npm run cli -- conversations show reads the database of DATABASE_URL; an unknown id exits 1 naming it', async () => {
    const exec = promisify(execFile);
    const cli = [join(REPO_ROOT, 'client', 'cli.ts'), 'conversations', 'show'];
    const env = { ...process.env, DATABASE_URL: stack.databaseUrl, LOG_LEVEL: 'warn' };
    const { stdout } = await exec(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [...cli, conversationId, '--json'], { cwd: REPO_ROOT, env });
    expect((JSON.parse(stdout) as { turns: unknown[] }).turns).toHaveLength(2);
    const missing = await exec(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [...cli, `none-${run}`], { cwd: REPO_ROOT, env }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toContain(`InvalidRequest: no stored interactions for conversation "none-`);
  }, 60_000);
});
