import { ConfigError, SwitchboardError } from '../errors.js';
import { loadBetterSqlite } from './sqlite-driver-better.js';
import { loadNodeSqlite } from './sqlite-driver-node.js';

/**
 * The few things the SQLite store needs from a driver, so it runs on either of two:
 *
 * - `node`: the runtime's built-in `node:sqlite` (`DatabaseSync`), unflagged since Node 22.13 and
 *   23.4. Preferred wherever it exists, so Node 22.13+ and 24 (the LTS users run) take the same,
 *   CI-tested path and need no native addon. better-sqlite3 below 13 aborts the process in a GC
 *   finalizer on Node >= 24.19, and 13 does not run on Node 20: no single version serves 20 to 24.
 * - `better-sqlite3` (12.x, an optional dependency): for Node 20 and 22 before 22.13.
 *
 * `SWITCHBOARD_SQLITE_DRIVER=node|better-sqlite3` forces one (tests run the store contract against
 * each). Both drivers are synchronous and are loaded on first use, never at import time.
 *
 * What both adapters guarantee, whatever the driver does natively:
 * - parameters are positional values, or one object whose keys are the `@name`s without the `@`;
 *   `undefined` binds as NULL; an object key the statement does not use is ignored (Node >= 22.15;
 *   Node 22.13/22.14 refuse it, so pass exact objects);
 * - rows are plain records with numbers (never BigInt), `get` gives `undefined` when there is none;
 * - errors from SQLite carry better-sqlite3's `code`, e.g. `SQLITE_CONSTRAINT_FOREIGNKEY`;
 * - `transaction(fn)` is `BEGIN IMMEDIATE` … `COMMIT`, a savepoint when nested, rolled back when
 *   `fn` throws; `fn` must be synchronous.
 */

export type SqliteDriverName = 'node' | 'better-sqlite3';
export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node', 'better-sqlite3'];

export type SqliteRow = Record<string, unknown>;

export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): SqliteRow | undefined;
  all(...params: unknown[]): SqliteRow[];
}

export interface SqliteDatabase {
  readonly driver: SqliteDriverName;
  readonly open: boolean;
  prepare(sql: string): SqliteStatement;
  /** One or more statements, no parameters, no result. */
  exec(sql: string): void;
  /** `PRAGMA <source>`; the first column of the first row (`'wal'` for `journal_mode = WAL`). */
  pragma(source: string): unknown;
  /** `fn` in one IMMEDIATE transaction (a savepoint when nested); rolled back if it throws. */
  transaction<T>(fn: () => T): T;
  /** Whether a transaction is open (SQLite ends one by itself after some failures: SQLITE_FULL, IOERR…). */
  readonly inTransaction: boolean;
  close(): void;
}

export interface SqliteOpenOptions {
  readonly?: boolean;
  /** Milliseconds to wait for another connection's write lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/** What opens a database, once its driver has loaded. */
export type SqliteOpener = (path: string, opts: SqliteOpenOptions) => SqliteDatabase;

/** A driver that loaded, or why it cannot be used on this runtime. */
export type SqliteDriverProbe = { ok: true; open: SqliteOpener } | { ok: false; reason: string };

/** No usable SQLite driver on this runtime (or the forced one is unusable). */
export class SqliteDriverUnavailableError extends SwitchboardError {
  constructor(message: string) {
    super('sqlite_driver_unavailable', message);
  }
}

export const SQLITE_DRIVER_ENV = 'SWITCHBOARD_SQLITE_DRIVER';

const loaders: Record<SqliteDriverName, () => SqliteDriverProbe> = { node: loadNodeSqlite, 'better-sqlite3': loadBetterSqlite };
const probes = new Map<SqliteDriverName, SqliteDriverProbe>();

/** Loads `name` (once per process) and says whether it can be used here. */
export function probeSqliteDriver(name: SqliteDriverName): SqliteDriverProbe {
  let probe = probes.get(name);
  if (!probe) probes.set(name, (probe = loaders[name]()));
  return probe;
}

/** The driver `SWITCHBOARD_SQLITE_DRIVER` forces, or undefined for the automatic choice. */
export function sqliteDriverFromEnv(env: NodeJS.ProcessEnv = process.env): SqliteDriverName | undefined {
  const value = env[SQLITE_DRIVER_ENV]?.trim();
  if (!value || value === 'auto') return undefined;
  if ((SQLITE_DRIVERS as readonly string[]).includes(value)) return value as SqliteDriverName;
  throw new ConfigError(`${SQLITE_DRIVER_ENV}="${value}" is not a SQLite driver: use ${SQLITE_DRIVERS.join(', ')} or auto (the default).`);
}

/**
 * Opens `path` with the forced driver (`driver`, else the environment), or with the first usable of
 * `node`, `better-sqlite3`. Throws SqliteDriverUnavailableError naming each driver's reason.
 */
export function openSqliteDatabase(path: string, opts: SqliteOpenOptions & { driver?: SqliteDriverName } = {}): SqliteDatabase {
  const forced = opts.driver ?? sqliteDriverFromEnv();
  const reasons: string[] = [];
  for (const name of forced ? [forced] : SQLITE_DRIVERS) {
    const probe = probeSqliteDriver(name);
    if (probe.ok) return probe.open(path, opts);
    reasons.push(`${name}: ${probe.reason}`);
  }
  const fix = forced
    ? `unset ${SQLITE_DRIVER_ENV} to let Switchboard choose`
    : 'use Node.js 22.13 or newer (built-in node:sqlite), or install better-sqlite3 12 (`npm install better-sqlite3@12`) on Node 20';
  throw new SqliteDriverUnavailableError(`No usable SQLite driver on Node.js ${process.version} (${reasons.join('; ')}). To fix: ${fix}.`);
}
