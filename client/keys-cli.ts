/**
 * `keys` commands for the orchestrator CLI (client/cli.ts calls addKeysCommands(program)):
 *   keys create --user u1 [--name laptop] [--admin] [--quota-requests N] [--quota-tokens N] [--budget-usd X] [--expires 30d|2027-01-31] [--json]
 *   keys list [--user u1] [--json]
 *   keys revoke <id|prefix>
 * An operator command run on the server, like `npm run db:migrate`: it reads and writes the
 * `ApiKey` table of DATABASE_URL directly (no gateway, no Temporal). The key is printed once, by
 * `create`; only its hash is stored, so it can never be shown again. `list` shows prefixes only.
 */
import type { Command } from 'commander';
import type { ApiKeyView, KeyStore } from '../src/auth/keys';
import { numberArg } from './cli-args';
import { lazyFn } from './lazy';

// Loaded when a command runs, not for --help (Prisma, zod).
const openKeyStoreFromEnv = lazyFn(async () => (await import('../src/auth/open-key-store')).openKeyStoreFromEnv);
const parseExpiry = lazyFn(async () => {
  const { parseExpiry: parse } = await import('../src/auth/keys');
  return (text: string) => Promise.resolve(parse(text, new Date(), '--expires'));
});
const viewOf = lazyFn(async () => {
  const { apiKeyView } = await import('../src/auth/keys');
  return (...args: Parameters<typeof apiKeyView>) => Promise.resolve(apiKeyView(...args));
});

export interface KeysConnection {
  keys: KeyStore;
  close(): Promise<void>;
}

export interface KeysCliOptions {
  /** How to reach the database (default: DATABASE_URL, as db:migrate). */
  connect?: () => Promise<KeysConnection>;
  /** Where output goes (default console.log). */
  out?: (line: string) => void;
  /** Where the one-time warning goes (default console.error, so `$(keys create ...)` captures the key lines only). */
  warn?: (line: string) => void;
}

export const KEY_SHOWN_ONCE_WARNING = 'This key is shown only now and cannot be shown again (only its hash is stored): keep it somewhere safe.';

function limitsOf(k: ApiKeyView): string {
  const parts = [
    k.quota_requests_per_day !== null ? `${k.quota_requests_per_day} req/day` : null,
    k.quota_tokens_per_day !== null ? `${k.quota_tokens_per_day} tokens/day` : null,
    k.budget_usd_per_month !== null ? `$${k.budget_usd_per_month}/month` : null,
  ].filter((p): p is string => p !== null);
  return parts.length === 0 ? '-' : parts.join(', ');
}

function printKey(k: ApiKeyView, out: (line: string) => void): void {
  out(
    `${k.id}  ${k.prefix}…  user ${k.user}  ${k.status}${k.admin ? '  admin' : ''}  limits ${limitsOf(k)}  created ${k.created_at}` +
      `${k.expires_at ? `  expires ${k.expires_at}` : ''}${k.revoked_at ? `  revoked ${k.revoked_at}` : ''}  last used ${k.last_used_at ?? 'never'}${k.name ? `  "${k.name}"` : ''}`,
  );
}

export function addKeysCommands(program: Command, cli: KeysCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const warn = cli.warn ?? ((line: string) => console.error(line));
  const connect = cli.connect ?? openKeyStoreFromEnv;
  const withKeys = async <T>(fn: (keys: KeyStore) => Promise<T>): Promise<T> => {
    const c = await connect();
    try {
      return await fn(c.keys);
    } finally {
      await c.close();
    }
  };

  const keys = program
    .command('keys')
    .description('API keys of the gateway: create, list, revoke (reads DATABASE_URL directly; run it on the server)');

  keys
    .command('create')
    .description('issue a key for a user; it is printed once and cannot be shown again')
    .requiredOption('-u, --user <id>', 'the user the key authenticates as (requests cannot claim another)')
    .option('--name <name>', 'a label (e.g. where the key is used)')
    .option('--admin', 'may call the admin endpoints (keys, routing changes)')
    .option('--quota-requests <n>', 'at most this many requests per UTC day for the user', numberArg('--quota-requests', true))
    .option('--quota-tokens <n>', 'at most this many tokens per UTC day for the user', numberArg('--quota-tokens', true))
    .option('--budget-usd <x>', 'at most this many US dollars per UTC month for the user', numberArg('--budget-usd'))
    .option('--expires <when>', 'an ISO-8601 date or time (2027-01-31) or a duration (30d, 12h, 90m, 2w)')
    .option('--json', 'print the key and its record as JSON')
    .action(async (o: { user: string; name?: string; admin?: boolean; quotaRequests?: number; quotaTokens?: number; budgetUsd?: number; expires?: string; json?: boolean }) => {
      const expiresAt = o.expires !== undefined ? await parseExpiry(o.expires) : undefined;
      const created = await withKeys((k) =>
        k.create({
          userId: o.user,
          ...(o.name !== undefined && { name: o.name }),
          ...(o.admin && { admin: true }),
          ...(expiresAt !== undefined && { expiresAt }),
          ...(o.quotaRequests !== undefined && { quotaRequestsPerDay: o.quotaRequests }),
          ...(o.quotaTokens !== undefined && { quotaTokensPerDay: o.quotaTokens }),
          ...(o.budgetUsd !== undefined && { budgetUsdPerMonth: o.budgetUsd }),
        }),
      );
      const view = await viewOf(created.record);
      if (o.json) {
        out(JSON.stringify({ key: created.key, warning: KEY_SHOWN_ONCE_WARNING, ...view }, null, 2));
      } else {
        out(created.key);
        printKey(view, out);
      }
      warn(KEY_SHOWN_ONCE_WARNING);
    });

  keys
    .command('list')
    .description('list keys (prefixes only: never the keys or their hashes), newest first')
    .option('-u, --user <id>', 'only this user’s keys')
    .option('--json', 'print as JSON')
    .action(async (o: { user?: string; json?: boolean }) => {
      const records = await withKeys((k) => k.list(o.user !== undefined ? { userId: o.user } : {}));
      const now = new Date();
      const views = await Promise.all(records.map((r) => viewOf(r, now)));
      if (o.json) {
        out(JSON.stringify(views, null, 2));
        return;
      }
      if (views.length === 0) out(o.user !== undefined ? `no keys for user ${o.user}` : 'no keys');
      for (const v of views) printKey(v, out);
    });

  keys
    .command('revoke')
    .description('revoke a key by id or prefix; the next request with it is refused (401)')
    .argument('<id|prefix>', 'the key id, or its prefix as `keys list` shows it (sk-orch-XXXXXXXX)')
    .option('--json', 'print the revoked key as JSON')
    .action(async (idOrPrefix: string, o: { json?: boolean }) => {
      const { key, alreadyRevoked } = await withKeys((k) => k.revoke(idOrPrefix));
      const view = await viewOf(key);
      if (o.json) {
        out(JSON.stringify({ ...view, already_revoked: alreadyRevoked }, null, 2));
        return;
      }
      out(`${alreadyRevoked ? 'already revoked' : 'revoked'}: ${key.id} (${key.prefix}…, user ${key.userId}) at ${view.revoked_at ?? '?'}`);
    });

  return keys;
}
