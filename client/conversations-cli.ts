/**
 * `conversations` commands for the orchestrator CLI (client/cli.ts calls addConversationsCommands(program)):
 *   conversations show <conversationId> [--json]
 * Prints a conversation turn by turn: each stored interaction with that `conversationId`, oldest
 * first, with the question it answered, the answer, and its consensus figures (strategy,
 * confidence, agreement, providers). A read of the stored interactions: like `keys`, it reads the
 * database of DATABASE_URL directly (the interactions are there, not in Temporal; no worker needed).
 */
import type { Command } from 'commander';
import type { StoredInteraction } from '../src/memory/repository';

export interface ConversationReader {
  listConversation(conversationId: string): Promise<StoredInteraction[]>;
  close(): Promise<void>;
}

export interface ConversationsCliOptions {
  /** How to reach the stored interactions (default: the memory store of DATABASE_URL). */
  connect?: () => Promise<ConversationReader>;
  /** Where output goes (default console.log). */
  out?: (line: string) => void;
}

// Loaded when a command runs, not for --help (Prisma, zod).
async function openFromEnv(): Promise<ConversationReader> {
  const [{ loadEnv }, { createMemoryStore }] = await Promise.all([import('../src/config/env'), import('../src/memory/repository')]);
  return createMemoryStore(loadEnv().DATABASE_URL);
}

async function notFound(conversationId: string): Promise<Error> {
  const { InvalidRequest } = await import('../src/errors');
  return new InvalidRequest(`no stored interactions for conversation "${conversationId}"`, [{ path: 'conversationId', message: 'not found' }]);
}

/** One turn as `--json` prints it. */
export interface ConversationTurnView {
  turn: number;
  workflowId: string;
  requestId: string | null;
  startedAt: string;
  status: 'completed' | 'failed';
  /** The user turn this interaction answered (the request's last user message, or its prompt). */
  question: string;
  /** The turns the request carried (null: it came as a prompt). */
  messages: StoredInteraction['messages'] | null;
  systemPrompt: string | null;
  response: string | null;
  consensus: {
    strategy: string;
    applied: boolean;
    confidence: number | null;
    agreement: number | null;
    thresholdMet: boolean | null;
    lowConfidence: boolean;
    dissenting: string[];
  };
  providersUsed: string[];
  providers: { provider: string; model: string; status: string; errorType: string | null }[];
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  cacheHit: boolean;
  errorType: string | null;
  errorMessage: string | null;
}

export function conversationView(rows: readonly StoredInteraction[]): ConversationTurnView[] {
  return rows.map((r, i) => ({
    turn: i + 1,
    workflowId: r.workflowId,
    requestId: r.requestId,
    startedAt: r.startedAt,
    status: r.status,
    question: r.prompt,
    messages: r.messages ?? null,
    systemPrompt: r.systemPrompt,
    response: r.response,
    consensus: {
      strategy: r.consensusStrategy,
      applied: r.consensusApplied,
      confidence: r.confidence,
      agreement: r.agreement,
      thresholdMet: r.thresholdMet ?? null,
      lowConfidence: r.lowConfidence ?? false,
      dissenting: r.dissenting ?? [],
    },
    providersUsed: r.providersUsed,
    providers: r.providerCalls.map((c) => ({ provider: c.provider, model: c.model, status: c.status, errorType: c.errorType })),
    tokensIn: r.tokensIn,
    tokensOut: r.tokensOut,
    costUsd: r.costUsd,
    cacheHit: r.cacheHit ?? false,
    errorType: r.errorType,
    errorMessage: r.errorMessage,
  }));
}

function figure(n: number | null): string {
  return n === null ? '-' : n.toFixed(3);
}

/** The indented lines of a multi-line text. */
function indented(text: string, prefix: string): string[] {
  return text.split('\n').map((line, i) => (i === 0 ? line : `${prefix}${line}`));
}

export function printConversation(conversationId: string, turns: readonly ConversationTurnView[], out: (line: string) => void): void {
  const first = turns[0];
  const cost = turns.reduce((sum, t) => sum + t.costUsd, 0);
  out(`conversation ${conversationId}: ${turns.length} turn(s)${first ? ` since ${first.startedAt}` : ''}, $${cost.toFixed(6)} in all`);
  for (const t of turns) {
    const pad = '               ';
    out('');
    out(`Turn ${t.turn}  ${t.startedAt}  ${t.workflowId}  ${t.status}${t.cacheHit ? '  (cache hit)' : ''}`);
    const history = t.messages ? t.messages.length - 1 : 0;
    if (history > 0) out(`  history      ${history} earlier message(s) sent with this turn`);
    out(`  user         ${indented(t.question, pad).join('\n')}`);
    if (t.status === 'completed') out(`  answer       ${indented(t.response ?? '', pad).join('\n')}`);
    else out(`  failed       ${t.errorType ?? 'UnknownError'}: ${t.errorMessage ?? ''}`);
    const c = t.consensus;
    const threshold = c.thresholdMet === null ? '' : c.thresholdMet ? ', threshold met' : ', threshold NOT met';
    out(`  consensus    ${c.applied ? `${c.strategy}, confidence ${figure(c.confidence)}, agreement ${figure(c.agreement)}${threshold}${c.lowConfidence ? ', LOW CONFIDENCE' : ''}` : `not applied (one answer; confidence ${figure(c.confidence)})`}`);
    out(`  providers    ${t.providersUsed.join(', ') || '-'}${c.dissenting.length > 0 ? `  (dissenting: ${c.dissenting.join(', ')})` : ''}`);
    out(`  usage        ${t.tokensIn} in / ${t.tokensOut} out, $${t.costUsd.toFixed(6)}`);
  }
}

export function addConversationsCommands(program: Command, cli: ConversationsCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const connect = cli.connect ?? openFromEnv;

  const conversations = program.command('conversations').description('stored conversations (requests sent with a conversationId; reads DATABASE_URL directly)');

  conversations
    .command('show')
    .description('print a conversation turn by turn, with each turn\'s consensus figures (strategy, confidence, agreement, providers)')
    .argument('<conversationId>')
    .option('--json', 'print as JSON')
    .action(async (conversationId: string, o: { json?: boolean }) => {
      const reader = await connect();
      let rows: StoredInteraction[];
      try {
        rows = await reader.listConversation(conversationId);
      } finally {
        await reader.close();
      }
      if (rows.length === 0) throw await notFound(conversationId);
      const turns = conversationView(rows);
      if (o.json) out(JSON.stringify({ conversationId, turns }, null, 2));
      else printConversation(conversationId, turns, out);
    });
  return conversations;
}
