/**
 * prisma/schema.prisma (SQLite) is the source of truth; prisma/postgresql/schema.prisma is its
 * generated twin, because a Prisma schema names exactly one datasource provider. The twin differs
 * only in the datasource provider and the generated client's output folder.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root';

export { PROJECT_ROOT };
export const SQLITE_SCHEMA_PATH = path.join(PROJECT_ROOT, 'prisma', 'schema.prisma');
export const POSTGRES_SCHEMA_PATH = path.join(PROJECT_ROOT, 'prisma', 'postgresql', 'schema.prisma');

const TWIN_HEADER = [
  '// GENERATED from prisma/schema.prisma by `npm run db:generate` (scripts/prisma.sh): do not edit.',
  '// Same models as the SQLite schema, for PostgreSQL. test/memory/schema-twin.test.ts fails when stale.',
  '',
  '',
].join('\n');

function replaceInBlock(schema: string, blockStart: RegExp, line: RegExp, replace: (match: RegExpExecArray) => string, what: string): string {
  const start = blockStart.exec(schema);
  if (!start) throw new Error(`prisma/schema.prisma: ${what}: block not found`);
  const end = schema.indexOf('}', start.index);
  const block = schema.slice(start.index, end);
  const m = line.exec(block);
  if (!m) throw new Error(`prisma/schema.prisma: ${what}: line not found`);
  const newBlock = block.slice(0, m.index) + replace(m) + block.slice(m.index + m[0].length);
  return schema.slice(0, start.index) + newBlock + schema.slice(end);
}

/** The PostgreSQL twin of the SQLite schema text. */
export function postgresTwinOf(sqliteSchema: string): string {
  // The source's leading comment speaks about the source; the twin gets its own header instead.
  const body = sqliteSchema.replace(/^(?:\/\/[^\n]*\n|[ \t]*\n)+/, '');
  let out = replaceInBlock(
    body,
    /^datasource\s+\w+\s*\{/m,
    /(provider\s*=\s*)"sqlite"/,
    (m) => `${m[1]}"postgresql"`,
    'datasource provider "sqlite"',
  );
  // The twin lives one folder deeper; its client goes to prisma-postgresql beside prisma-sqlite.
  out = replaceInBlock(
    out,
    /^generator\s+client\s*\{/m,
    /(output\s*=\s*)"\.\.\/([^"]*)\/prisma-sqlite"/,
    (m) => `${m[1]}"../../${m[2]}/prisma-postgresql"`,
    'generator output "../<dir>/prisma-sqlite"',
  );
  return TWIN_HEADER + out;
}

/** Regenerate the twin file; returns true when its content changed. */
export function writePostgresTwin(): boolean {
  const twin = postgresTwinOf(readFileSync(SQLITE_SCHEMA_PATH, 'utf8'));
  let current: string | undefined;
  try {
    current = readFileSync(POSTGRES_SCHEMA_PATH, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === twin) return false;
  mkdirSync(path.dirname(POSTGRES_SCHEMA_PATH), { recursive: true });
  writeFileSync(POSTGRES_SCHEMA_PATH, twin);
  return true;
}

if (require.main === module) {
  const changed = writePostgresTwin();
  process.stderr.write(`${path.relative(process.cwd(), POSTGRES_SCHEMA_PATH)} ${changed ? 'regenerated' : 'up to date'}\n`);
}
