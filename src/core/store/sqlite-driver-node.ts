import { createRequire } from 'node:module';
import type { SqliteDatabase, SqliteDriverProbe, SqliteOpenOptions, SqliteRow, SqliteRunResult, SqliteStatement } from './sqlite-driver.js';
import { SqliteError, sqliteCodeName } from './sqlite-driver-errors.js';

/**
 * The `node` SQLite driver: the runtime's built-in `node:sqlite` (`DatabaseSync`), Node >= 22.13 / 23.4.
 * Declared here rather than taken from @types/node: the project builds against Node 20's types,
 * which have no `node:sqlite`, and only these members are used (all present since 22.13).
 */

interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): SqliteRow | undefined;
  all(...params: unknown[]): SqliteRow[];
  /** Node >= 22.15: lets an object carry keys the statement does not use, as better-sqlite3 does. */
  setAllowUnknownNamedParameters?(enabled: boolean): void;
}

interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
  /** Node >= 22.16 / 24: whether a transaction is open (SQLite may end one on its own after some errors). */
  readonly isTransaction?: boolean;
}

type NodeDatabaseClass = new (path: string, options?: { readOnly?: boolean }) => NodeDatabase;

interface NodeSqliteModule {
  DatabaseSync: NodeDatabaseClass;
  /** The same class under its newer name (DatabaseSync is deprecated there, DEP0210). */
  Database?: NodeDatabaseClass;
}

const ours = /^SQLite is an experimental feature/;

/**
 * `require('node:sqlite')`, without the one-time "ExperimentalWarning: SQLite is an experimental
 * feature" that Node 22 prints on stderr when the module loads. Switchboard chooses this module on
 * purpose and tests it; a CLI user or an MCP host reading our stderr would take the line for a
 * problem. So exactly that warning is dropped, only during this synchronous load (Node emits it
 * from the module's top level through `process.emitWarning`); every other warning passes through.
 */
function requireQuietly(): NodeSqliteModule {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: unknown } | undefined)?.type;
    const name = warning instanceof Error ? warning.name : type;
    const message = warning instanceof Error ? warning.message : warning;
    if (name === 'ExperimentalWarning' && ours.test(message)) return;
    return (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return createRequire(import.meta.url)('node:sqlite') as NodeSqliteModule;
  } finally {
    process.emitWarning = emitWarning;
  }
}

export function loadNodeSqlite(): SqliteDriverProbe {
  let mod: NodeSqliteModule;
  try {
    mod = requireQuietly();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason =
      code === 'ERR_UNKNOWN_BUILTIN_MODULE'
        ? `Node.js ${process.version} has no node:sqlite without a flag (it needs 22.13+, 23.4+ or 24+)`
        : `node:sqlite did not load: ${(err as Error).message}`;
    return { ok: false, reason };
  }
  const Database = mod.Database ?? mod.DatabaseSync;
  return { ok: true, open: (path, opts) => {
    // Opening fails with SQLite's own codes too (a folder in the way: SQLITE_CANTOPEN): name them like every other failure.
    try {
      return new NodeSqliteDatabase(new Database(path, { readOnly: opts.readonly ?? false }), opts);
    } catch (err) {
      throw translate(err);
    }
  } };
}

/** node:sqlite reports SQLite failures as ERR_SQLITE_ERROR + `errcode`: give them better-sqlite3's names. */
function translate(err: unknown): unknown {
  const e = err as { code?: unknown; errcode?: unknown; message?: unknown };
  if (e && e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') return new SqliteError(String(e.message), sqliteCodeName(e.errcode), { cause: err });
  return err;
}

/** better-sqlite3 binds `undefined` as NULL; node:sqlite refuses it. Copies only when needed. */
function bindable(params: unknown[]): unknown[] {
  let out = params;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    let fixed: unknown = p;
    if (p === undefined) fixed = null;
    else if (p !== null && typeof p === 'object' && !ArrayBuffer.isView(p) && Object.values(p).includes(undefined)) {
      fixed = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v === undefined ? null : v]));
    }
    if (fixed !== p) {
      if (out === params) out = [...params];
      out[i] = fixed;
    }
  }
  return out;
}

class NodeSqliteStatement implements SqliteStatement {
  readonly #stmt: NodeStatement;
  constructor(stmt: NodeStatement) {
    this.#stmt = stmt;
    stmt.setAllowUnknownNamedParameters?.(true);
  }

  run(...params: unknown[]): SqliteRunResult {
    try {
      const r = this.#stmt.run(...bindable(params));
      return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
    } catch (err) {
      throw translate(err);
    }
  }

  get(...params: unknown[]): SqliteRow | undefined {
    try {
      return this.#stmt.get(...bindable(params));
    } catch (err) {
      throw translate(err);
    }
  }

  all(...params: unknown[]): SqliteRow[] {
    try {
      return this.#stmt.all(...bindable(params));
    } catch (err) {
      throw translate(err);
    }
  }
}

function isThenable(value: unknown): boolean {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

class NodeSqliteDatabase implements SqliteDatabase {
  readonly driver = 'node';
  readonly #db: NodeDatabase;
  #open = true;
  /** Open transactions and savepoints, for runtimes without `isTransaction` (22.13-22.15). */
  #depth = 0;

  constructor(db: NodeDatabase, opts: SqliteOpenOptions) {
    this.#db = db;
    // DatabaseSync's `timeout` option arrived after 22.13; the pragma does the same everywhere.
    if (opts.busyTimeoutMs !== undefined) this.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs))}`);
  }

  get open(): boolean {
    return this.#open;
  }

  prepare(sql: string): SqliteStatement {
    try {
      return new NodeSqliteStatement(this.#db.prepare(sql));
    } catch (err) {
      throw translate(err);
    }
  }

  exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (err) {
      throw translate(err);
    }
  }

  pragma(source: string): unknown {
    const row = this.prepare(`PRAGMA ${source}`).get();
    return row === undefined ? undefined : Object.values(row)[0];
  }

  #inTransaction(): boolean {
    const native = this.#db.isTransaction;
    return typeof native === 'boolean' ? native : this.#depth > 0;
  }

  get inTransaction(): boolean {
    return this.#inTransaction();
  }

  /** better-sqlite3's `db.transaction(fn).immediate()`, by hand (same savepoint nesting and rollback). */
  transaction<T>(fn: () => T): T {
    const nested = this.#inTransaction();
    this.exec(nested ? 'SAVEPOINT sb_tx' : 'BEGIN IMMEDIATE');
    this.#depth++;
    try {
      const result = fn();
      if (isThenable(result)) throw new TypeError('A SQLite transaction function must be synchronous; it returned a promise.');
      this.exec(nested ? 'RELEASE sb_tx' : 'COMMIT');
      return result;
    } catch (err) {
      // SQLite ends the transaction itself after some failures (SQLITE_FULL, IOERR…): then there is nothing to undo.
      if (this.#inTransaction()) {
        try {
          this.exec(nested ? 'ROLLBACK TO sb_tx; RELEASE sb_tx' : 'ROLLBACK');
        } catch {
          // The failure worth reporting is `err`; a rollback that cannot run changes nothing more.
        }
      }
      throw err;
    } finally {
      this.#depth--;
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#db.close();
  }
}
