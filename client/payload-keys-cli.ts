/**
 * `payload-keys` commands for the orchestrator CLI (client/cli.ts calls addPayloadKeysCommands(program)):
 *   payload-keys new [--id <id>] [--json]   a fresh `<id>:<base64>` entry for PAYLOAD_KEYS / PAYLOAD_KEYS_FILE
 *   payload-keys show [--json]              the configured key ids, where they come from, which one encrypts
 * `show` never prints key material (a short SHA-256 fingerprint lets two machines compare keys),
 * and it does not generate the checkout's local key file: it reports what a process would use.
 */
import type { Command } from 'commander';
import { UsageError } from './cli-args';

export interface PayloadKeysCliOptions {
  /** Where output goes (default console.log). */
  out?: (line: string) => void;
  /** Where hints go (default console.error, so `$(payload-keys new)` captures the entry only). */
  warn?: (line: string) => void;
  /** The environment (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface PayloadKeysView {
  encryption: 'on' | 'off';
  /** 'PAYLOAD_KEYS', 'file:<path>', 'generated:<path>', or 'none (generated on first use: <path>)'. */
  source: string | null;
  keys: { id: string; role: 'encrypts' | 'decrypts'; fingerprint: string }[];
}

export function addPayloadKeysCommands(program: Command, cli: PayloadKeysCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const warn = cli.warn ?? ((line: string) => console.error(line));

  const group = program
    .command('payload-keys')
    .description('payload encryption keys (PAYLOAD_KEYS / PAYLOAD_KEYS_FILE): make a new one, show which are configured');

  group
    .command('new')
    .description('print a fresh <id>:<base64 of 32 bytes> entry; put it FIRST in PAYLOAD_KEYS (newest encrypts, older ones still decrypt)')
    .option('--id <id>', 'the key id (1-64 of [A-Za-z0-9._-]; default k<date>-<random>)')
    .option('--json', 'print {"id", "entry"} as JSON')
    .action(async (o: { id?: string; json?: boolean }) => {
      const { newPayloadKeyEntry, parsePayloadKeys } = await import('../src/privacy/payload-keys');
      const { ConfigError } = await import('../src/errors');
      let entry: string;
      try {
        entry = newPayloadKeyEntry(o.id);
        parsePayloadKeys(entry, '--id');
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(`--id: key id '${o.id ?? ''}' must be 1-64 characters of [A-Za-z0-9._-]`);
        throw err;
      }
      const id = entry.slice(0, entry.indexOf(':'));
      out(o.json ? JSON.stringify({ id, entry }) : entry);
      warn(`Keep it secret. To rotate: PAYLOAD_KEYS=${id}:...,<current keys> (newest first) on every worker, client and gateway, then restart them; drop the old key once no history needs it.`);
    });

  group
    .command('show')
    .description('the configured key ids, their source and which one encrypts new payloads (never the keys)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const view = await payloadKeysView(cli.env ?? process.env);
      if (o.json) {
        out(JSON.stringify(view, null, 2));
        return;
      }
      out(`payload encryption  ${view.encryption}${view.encryption === 'off' ? ' (PAYLOAD_ENCRYPTION=off: payloads are stored in plain text)' : ''}`);
      if (view.source !== null) out(`source              ${view.source}`);
      for (const k of view.keys) out(`  ${k.id.padEnd(24)} ${k.role.padEnd(9)} sha256:${k.fingerprint}`);
    });

  return program;
}

/** What `show` reports. ConfigError (exit 1) for malformed keys, an unreadable file, or production without keys. */
export async function payloadKeysView(source: NodeJS.ProcessEnv): Promise<PayloadKeysView> {
  const [{ createHash }, { existsSync, readFileSync }, path, { loadEnv }, keys] = await Promise.all([
    import('node:crypto'),
    import('node:fs'),
    import('node:path'),
    import('../src/config/env'),
    import('../src/privacy/payload-keys'),
  ]);
  const env = loadEnv(source);
  if (env.PAYLOAD_ENCRYPTION === 'off') return { encryption: 'off', source: null, keys: [] };
  const local = keys.LOCAL_PAYLOAD_KEYS_FILE;
  const shown = path.relative(process.cwd(), local) || local;
  // Without configured keys a process generates the checkout's key file; `show` only looks.
  if (!env.PAYLOAD_KEYS && !env.PAYLOAD_KEYS_FILE && env.NODE_ENV !== 'production' && !existsSync(local)) {
    return { encryption: 'on', source: `none yet: the first worker or client of this checkout generates ${shown}`, keys: [] };
  }
  const keyring = !env.PAYLOAD_KEYS && !env.PAYLOAD_KEYS_FILE && env.NODE_ENV !== 'production'
    ? { keys: keys.parsePayloadKeys(readFileSync(local, 'utf8'), local), source: `generated:${shown}` }
    : keys.loadPayloadKeyring(env);
  if (keyring === null) return { encryption: 'off', source: null, keys: [] };
  return {
    encryption: 'on',
    source: keyring.source,
    keys: keyring.keys.map((k, i) => ({ id: k.id, role: i === 0 ? 'encrypts' : 'decrypts', fingerprint: createHash('sha256').update(k.key).digest('hex').slice(0, 12) })),
  };
}
