/**
 * Prisma's schema engine, as WebAssembly, driven through the app's own driver adapters.
 *
 * The Prisma 7 CLI needs a native schema-engine binary for `migrate` and downloads it on first
 * use; that download is not always possible. `@prisma/schema-engine-wasm` is the same engine
 * (the build matching prisma 7.10.0) and talks to the database through a driver adapter, so it
 * runs wherever the app runs. Its package entry imports the `.wasm` as an ES module, which
 * Node 20 cannot do, so the module is compiled here from the file and wired to its JS glue.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
// A dependency of both adapters (same 7.10.0 build); it supplies the error-capturing binder the engine expects.
import { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum } from '@prisma/driver-adapter-utils';
import type { ErrorRegistry, SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type * as EngineModule from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';
import type { DatabaseTarget } from './database-url';

export type SchemaEngine = EngineModule.SchemaEngine;
export type MigrationList = EngineModule.MigrationList;
export type DiffTarget = EngineModule.DiffTarget;

export const NO_FILTERS: EngineModule.SchemaFilter = { externalTables: [], externalEnums: [] };

let loaded: Promise<typeof EngineModule> | undefined;

/** The slice of the WebAssembly API used here (the project's `lib` has no DOM typings). */
type WasmImports = Record<string, unknown>;
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: Record<string, WasmImports>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Compile and start the engine's WebAssembly module once per process. */
export function loadSchemaEngineModule(): Promise<typeof EngineModule> {
  loaded ??= (async () => {
    // The JS glue is an ES module: import it, and instantiate the .wasm beside it by hand.
    const glue = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as typeof EngineModule & {
      __wbg_set_wasm(exports: Record<string, unknown>): void;
    };
    const wasmPath = path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')), 'schema_engine_bg.wasm');
    // The engine arms 10 s timers it never clears (timeouts raced against database calls). Unref
    // them so a finished migration does not hold the process open for another 10 s.
    const imports: WasmImports = { ...(glue as unknown as WasmImports) };
    for (const [name, fn] of Object.entries(imports)) {
      if (name.startsWith('__wbg_setTimeout_') && typeof fn === 'function') {
        imports[name] = (...args: unknown[]) => {
          const timer = (fn as (...a: unknown[]) => unknown)(...args);
          (timer as { unref?: () => void } | undefined)?.unref?.();
          return timer;
        };
      }
    }
    const { instance } = await wasmApi.instantiate(readFileSync(wasmPath), { './schema_engine_bg.js': imports });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports['__wbindgen_start'] as () => void)();
    return glue;
  })();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

/**
 * Wraps an adapter factory so that every connection the engine opens (main and shadow) is
 * closed afterwards, exactly once. SQLite keeps its file locked otherwise.
 */
class TrackedAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider: SqlMigrationAwareDriverAdapterFactory['provider'];
  readonly adapterName: string;
  private readonly open = new Set<SqlDriverAdapter>();

  constructor(
    private readonly inner: SqlMigrationAwareDriverAdapterFactory,
    private readonly shadow: () => Promise<SqlDriverAdapter>,
  ) {
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
  }

  async connect(): Promise<SqlDriverAdapter> {
    return this.track(await this.inner.connect());
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    return this.track(await this.shadow());
  }

  private track(adapter: SqlDriverAdapter): SqlDriverAdapter {
    const dispose = adapter.dispose.bind(adapter);
    let disposed: Promise<void> | undefined;
    adapter.dispose = () => {
      this.open.delete(adapter);
      disposed ??= dispose();
      return disposed;
    };
    this.open.add(adapter);
    if (adapter.provider === 'sqlite') allowMultiStatementScripts(adapter);
    if (adapter.provider === 'postgres') restoreCharColumns(adapter);
    return adapter;
  }

  async closeAll(): Promise<void> {
    const results = await Promise.allSettled([...this.open].map((a) => a.dispose()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/**
 * When the engine replays migrations on a shadow database supplied by an adapter, it sends each
 * migration.sql as one raw query; better-sqlite3 prepares one statement at a time and refuses.
 * Run such parameterless multi-statement text as a script instead.
 */
function allowMultiStatementScripts(adapter: SqlDriverAdapter): void {
  const isMultiStatement = (error: unknown): boolean =>
    error instanceof Error && (/more than one statement/.test(error.message) || (error.cause instanceof Error && /more than one statement/.test(error.cause.message)));
  const queryRaw = adapter.queryRaw.bind(adapter);
  const executeRaw = adapter.executeRaw.bind(adapter);
  const executeScript = adapter.executeScript.bind(adapter);
  adapter.queryRaw = async (query) => {
    try {
      return await queryRaw(query);
    } catch (error) {
      if (query.args.length > 0 || !isMultiStatement(error)) throw error;
      await executeScript(query.sql);
      return { columnNames: [], columnTypes: [], rows: [] };
    }
  };
  adapter.executeRaw = async (query) => {
    try {
      return await executeRaw(query);
    } catch (error) {
      if (query.args.length > 0 || !isMultiStatement(error)) throw error;
      await executeScript(query.sql);
      return 0;
    }
  };
}

/** `postgresql://.../db?x` with the database name replaced. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * A PostgreSQL shadow database for replaying migrations, created beside the target and dropped
 * on dispose. (PrismaPg's own shadow connection reuses the connection string, whose database
 * name wins over the one it sets, so it would replay on the target database itself.)
 */
async function connectPostgresShadow(url: string): Promise<SqlDriverAdapter> {
  const name = `prisma_shadow_${randomUUID().replace(/-/g, '')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const adapter = await postgresEngineAdapter(withDatabase(url, name)).connect();
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await dispose();
    const dropper = new pg.Client({ connectionString: url });
    await dropper.connect();
    try {
      await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await dropper.end();
    }
  };
  return adapter;
}

/**
 * A pg client that reports PostgreSQL's internal `"char"` type (OID 18) as text. The engine reads
 * catalog columns of that type (pg_class.relkind, pg_constraint.contype, ...) when it describes a
 * database, and @prisma/adapter-pg 7.10 refuses to map OID 18 ("Column type 'char' could not be
 * deserialized"). pg already returns those values as one-character strings.
 */
class CharAsTextClient extends pg.Client {}
{
  const baseQuery = Reflect.get(pg.Client.prototype, 'query') as (this: pg.Client, ...args: unknown[]) => unknown;
  const relabel = (result: unknown): unknown => {
    for (const r of Array.isArray(result) ? result : [result]) {
      const { fields, rows } = (r ?? {}) as { fields?: { dataTypeID: number }[]; rows?: unknown[] };
      if (!fields || !rows) continue;
      const charColumns: number[] = [];
      fields.forEach((f, i) => {
        if (f.dataTypeID === PG_CHAR_OID) {
          f.dataTypeID = PG_TEXT_OID;
          charColumns.push(i);
        }
      });
      if (charColumns.length > 0) CHAR_COLUMNS.set(rows, charColumns);
    }
    return result;
  };
  Object.defineProperty(CharAsTextClient.prototype, 'query', {
    value: function query(this: pg.Client, ...args: unknown[]): unknown {
      // pg-pool calls the callback form; direct callers use the promise form.
      const callback = args.at(-1);
      if (typeof callback === 'function') {
        args[args.length - 1] = (error: unknown, result: unknown) => (callback as (e: unknown, r: unknown) => void)(error, error ? result : relabel(result));
      }
      const out = baseQuery.apply(this, args);
      return out instanceof Promise ? out.then(relabel) : out;
    },
    writable: true,
    configurable: true,
  });
}
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;
/** Result rows (the array the adapter passes through) -> indexes of their `"char"` columns. */
const CHAR_COLUMNS = new WeakMap<object, number[]>();

/** Give `"char"` columns the Character type the engine expects (see CharAsTextClient). */
function restoreCharColumns(adapter: SqlDriverAdapter): void {
  const queryRaw = adapter.queryRaw.bind(adapter);
  adapter.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const i of CHAR_COLUMNS.get(result.rows) ?? []) result.columnTypes[i] = ColumnTypeEnum.Character;
    return result;
  };
}

function postgresEngineAdapter(url: string): PrismaPg {
  const pool = new pg.Pool({ connectionString: url, Client: CharAsTextClient, max: 4 });
  // adapter-pg is typed against its own copy of @types/pg; the Pool is the same runtime class.
  return new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0], { disposeExternalPool: true });
}

function engineAdapterFactory(target: DatabaseTarget): SqlMigrationAwareDriverAdapterFactory {
  return target.provider === 'sqlite' ? new PrismaBetterSqlite3({ url: target.filePath }) : postgresEngineAdapter(target.url);
}

export interface SchemaEngineLog {
  level?: string;
  fields?: { message?: string };
}

/**
 * Run `fn` with an engine connected to `target` and close every connection afterwards,
 * whether `fn` succeeds or not.
 */
export async function withSchemaEngine<T>(target: DatabaseTarget, fn: (engine: SchemaEngine) => Promise<T>, onLog?: (log: SchemaEngineLog) => void): Promise<T> {
  const glue = await loadSchemaEngineModule();
  const inner = engineAdapterFactory(target);
  const tracked = new TrackedAdapterFactory(inner, () =>
    target.provider === 'postgresql' ? connectPostgresShadow(target.url) : inner.connectToShadowDb(),
  );
  const bound = bindMigrationAwareSqlAdapterFactory(tracked);
  let engine: SchemaEngine | undefined;
  try {
    engine = await glue.SchemaEngine.new(
      { datamodels: undefined },
      (line: string) => {
        if (!onLog) return;
        try {
          onLog(JSON.parse(line) as SchemaEngineLog);
        } catch {
          onLog({ fields: { message: line } });
        }
      },
      bound,
    );
    return await fn(engine);
  } catch (error) {
    throw withDriverError(error, bound.errorRegistry);
  } finally {
    engine?.free();
    await tracked.closeAll();
  }
}

/**
 * The engine reports a JavaScript error raised inside the adapter as `External error id#N`; the
 * error itself waits in the adapter's registry. Put it back as the cause, with its message.
 */
function withDriverError(error: unknown, registry: ErrorRegistry): unknown {
  if (!(error instanceof Error)) return error;
  const id = /External error id#(\d+)/.exec(error.message)?.[1];
  if (id === undefined) return error;
  const original = registry.consumeError(Number(id))?.error;
  if (original === undefined) return error;
  const detail = original instanceof Error ? original.message : inspect(original);
  return new Error(error.message.replace(`External error id#${id}`, `Driver error: ${detail}`), { cause: original });
}
