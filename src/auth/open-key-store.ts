/**
 * A key store on its own database client, for the operator CLI (`keys create | list | revoke`)
 * and other short-lived tools: opened from a database URL, closed by the caller.
 */
import { DEFAULT_DATABASE_URL } from '../constants';
import { createPrismaClient } from '../memory/client';
import { createKeyStore, type KeyStore } from './keys';

export interface KeyStoreHandle {
  keys: KeyStore;
  close(): Promise<void>;
}

export function openKeyStore(databaseUrl: string): KeyStoreHandle {
  const client = createPrismaClient(databaseUrl);
  return { keys: createKeyStore({ client, url: databaseUrl }), close: () => client.$disconnect() };
}

/** DATABASE_URL (default the SQLite file), as `npm run db:migrate` reads it. */
export function openKeyStoreFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<KeyStoreHandle> {
  return Promise.resolve(openKeyStore(env['DATABASE_URL'] || DEFAULT_DATABASE_URL));
}
