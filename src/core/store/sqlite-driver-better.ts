import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteDriverProbe, SqliteOpenOptions, SqliteStatement } from './sqlite-driver.js';

/**
 * The `better-sqlite3` SQLite driver (12.x, an optional dependency), for runtimes without an
 * unflagged `node:sqlite`: Node 20 and 22 before 22.13. Its API is already the one the store
 * speaks, so this adapter is thin; its errors already carry `code` names such as
 * `SQLITE_CONSTRAINT_FOREIGNKEY`.
 */

/** better-sqlite3 < 13 subclasses node::ObjectWrap, whose destructor aborts the process on Node >= 24.19 when a GC finalizes a statement. */
function knownToCrash(version: string): boolean {
  const major = Number(version.split('.')[0]);
  const [nodeMajor = 0, nodeMinor = 0] = process.versions.node.split('.').map(Number);
  return major < 13 && (nodeMajor > 24 || (nodeMajor === 24 && nodeMinor >= 19));
}

export function loadBetterSqlite(): SqliteDriverProbe {
  const require = createRequire(import.meta.url);
  let Database: typeof BetterSqlite3;
  try {
    const { version } = require('better-sqlite3/package.json') as { version: string };
    if (knownToCrash(version)) {
      return { ok: false, reason: `better-sqlite3 ${version} aborts the process in a GC finalizer on Node.js ${process.version} (fixed in 13, which does not run on Node 20)` };
    }
    Database = require('better-sqlite3') as typeof BetterSqlite3;
    // The native addon loads on the first `new Database`, and fails there when it was built for another Node.
    new Database(':memory:').close();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const detail = (err as Error).message.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
    const reason =
      code === 'MODULE_NOT_FOUND'
        ? 'not installed (an optional dependency: `npm install better-sqlite3@12`)'
        : `its native addon did not load (\`npm rebuild better-sqlite3\` builds it for this Node): ${detail}`;
    return { ok: false, reason };
  }
  return { ok: true, open: (path, opts) => new BetterSqliteDatabase(new Database(path, { readonly: opts.readonly ?? false }), opts) };
}

class BetterSqliteDatabase implements SqliteDatabase {
  readonly driver = 'better-sqlite3';
  readonly #db: BetterSqlite3.Database;
  /** One transaction function for every call: better-sqlite3 makes a savepoint itself when one is already open. */
  readonly #tx: BetterSqlite3.Transaction<(fn: () => unknown) => unknown>;

  constructor(db: BetterSqlite3.Database, opts: SqliteOpenOptions) {
    this.#db = db;
    this.#tx = db.transaction((fn: () => unknown) => fn());
    if (opts.busyTimeoutMs !== undefined) this.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs))}`);
  }

  get open(): boolean {
    return this.#db.open;
  }

  get inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  prepare(sql: string): SqliteStatement {
    return this.#db.prepare<unknown[], Record<string, unknown>>(sql);
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  pragma(source: string): unknown {
    return this.#db.pragma(source, { simple: true });
  }

  transaction<T>(fn: () => T): T {
    return this.#tx.immediate(fn) as T;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
