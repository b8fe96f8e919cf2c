import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { SQLITE_DRIVERS, SqliteDriverUnavailableError, openSqliteDatabase, probeSqliteDriver, sqliteDriverFromEnv, type SqliteDatabase } from '../../src/core/store/sqlite-driver.js';
import { describeEachSqliteDriver } from '../support/sqlite-drivers.js';

/**
 * The driver interface the SQLite store is written against: the places where node:sqlite and
 * better-sqlite3 differ natively (binding, results, errors, transactions) behave the same here.
 */

const [nodeMajor = 0, nodeMinor = 0] = process.versions.node.split('.').map(Number);

describeEachSqliteDriver('sqlite-driver', (driver) => {
  let dir: string;
  let db: SqliteDatabase;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-driver-'));
    db = openSqliteDatabase(join(dir, 'x.db'), { driver, busyTimeoutMs: 1234 });
    db.exec(`PRAGMA foreign_keys = ON;
      CREATE TABLE parents (id TEXT PRIMARY KEY);
      CREATE TABLE kids (id TEXT PRIMARY KEY, parent TEXT REFERENCES parents (id), n INTEGER, note TEXT)`);
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds positional and bare named parameters, undefined as NULL, and returns plain numbers', () => {
    db.prepare('INSERT INTO parents (id) VALUES (?)').run('p1');
    const insert = db.prepare('INSERT INTO kids (id, parent, n, note) VALUES (@id, @parent, @n, @note) RETURNING *');
    expect({ ...insert.get({ id: 'k1', parent: 'p1', n: 7, note: undefined }) }).toEqual({ id: 'k1', parent: 'p1', n: 7, note: null });
    expect({ ...db.prepare('SELECT ? AS a, ? AS b').get(undefined, 2) }).toEqual({ a: null, b: 2 });
    const res = db.prepare('UPDATE kids SET n = n + 1 WHERE parent = ?').run('p1');
    expect(res).toEqual({ changes: 1, lastInsertRowid: expect.anything() });
    const row = db.prepare('SELECT n, COUNT(*) AS c FROM kids').get()!;
    expect(typeof row.n).toBe('number');
    expect(typeof row.c).toBe('number');
    expect(db.prepare('SELECT * FROM kids WHERE id = ?').get('nope')).toBeUndefined();
    expect(db.prepare('SELECT * FROM kids WHERE id = ?').all('nope')).toEqual([]);
  });

  it.skipIf(driver === 'node' && nodeMajor === 22 && nodeMinor < 15)('ignores object keys the statement does not use', () => {
    db.prepare('INSERT INTO parents (id) VALUES (@id)').run({ id: 'p2', extra: 'ignored' });
    expect(db.prepare('SELECT COUNT(*) AS c FROM parents').get()).toMatchObject({ c: 1 });
  });

  it("names SQLite's errors the same way on every driver", () => {
    const orphan = () => db.prepare('INSERT INTO kids (id, parent) VALUES (?, ?)').run('k9', 'missing');
    expect(orphan).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }));
    db.prepare('INSERT INTO parents (id) VALUES (?)').run('p1');
    expect(() => db.prepare('INSERT INTO parents (id) VALUES (?)').run('p1')).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }));
    db.exec('CREATE UNIQUE INDEX kids_note ON kids (note)');
    db.prepare("INSERT INTO kids (id, note) VALUES ('a', 'same')").run();
    expect(() => db.prepare("INSERT INTO kids (id, note) VALUES ('b', 'same')").run()).toThrow(expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }));
    expect(() => db.prepare('SELECT * FROM nowhere')).toThrow(expect.objectContaining({ code: 'SQLITE_ERROR', message: expect.stringMatching(/no such table/) }));
  });

  it('commits, rolls back, nests as savepoints and refuses async functions', () => {
    const count = () => db.prepare('SELECT COUNT(*) AS c FROM parents').get()!.c;
    const add = (id: string) => db.prepare('INSERT INTO parents (id) VALUES (?)').run(id);
    expect(db.transaction(() => (add('a'), 'done'))).toBe('done');
    expect([db.inTransaction, db.transaction(() => db.inTransaction && db.transaction(() => db.inTransaction))]).toEqual([false, true]);
    expect(() =>
      db.transaction(() => {
        add('b');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(count()).toBe(1);

    db.transaction(() => {
      add('c');
      expect(() =>
        db.transaction(() => {
          add('d');
          throw new Error('inner');
        }),
      ).toThrow('inner');
      add('e');
    });
    expect(db.prepare('SELECT id FROM parents ORDER BY id').all().map((r) => r.id)).toEqual(['a', 'c', 'e']);

    expect(() => db.transaction(() => Promise.resolve(add('f')))).toThrow(TypeError);
    expect(count()).toBe(3);
    // The connection is usable afterwards: no transaction was left open.
    expect(db.transaction(() => add('g')).changes).toBe(1);
  });

  it('takes the write lock up front, so a second connection waits and then fails busy', () => {
    const other = openSqliteDatabase(join(dir, 'x.db'), { driver, busyTimeoutMs: 0 });
    try {
      expect(other.pragma('busy_timeout')).toBe(0);
      expect(db.pragma('busy_timeout')).toBe(1234);
      db.transaction(() => {
        expect(() => other.transaction(() => 1)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^SQLITE_BUSY/) }));
      });
      expect(other.transaction(() => 2)).toBe(2);
    } finally {
      other.close();
    }
  });

  it('opens read-only, reports pragmas simply and closes once', () => {
    expect(db.pragma('journal_mode = WAL')).toBe('wal');
    const ro = openSqliteDatabase(join(dir, 'x.db'), { driver, readonly: true });
    expect(() => ro.exec("INSERT INTO parents (id) VALUES ('x')")).toThrow(expect.objectContaining({ code: expect.stringMatching(/^SQLITE_READONLY/) }));
    expect(ro.open).toBe(true);
    ro.close();
    ro.close();
    expect(ro.open).toBe(false);
  });
});

describe('choosing a SQLite driver', () => {
  it('reads SWITCHBOARD_SQLITE_DRIVER and refuses anything else with the valid names', () => {
    expect(sqliteDriverFromEnv({})).toBeUndefined();
    expect(sqliteDriverFromEnv({ SWITCHBOARD_SQLITE_DRIVER: 'auto' })).toBeUndefined();
    expect(sqliteDriverFromEnv({ SWITCHBOARD_SQLITE_DRIVER: ' node ' })).toBe('node');
    expect(sqliteDriverFromEnv({ SWITCHBOARD_SQLITE_DRIVER: 'better-sqlite3' })).toBe('better-sqlite3');
    expect(() => sqliteDriverFromEnv({ SWITCHBOARD_SQLITE_DRIVER: 'sqlite3' })).toThrow(ConfigError);
    expect(() => sqliteDriverFromEnv({ SWITCHBOARD_SQLITE_DRIVER: 'sqlite3' })).toThrow(/node, better-sqlite3 or auto/);
  });

  it('prefers the built-in driver, and always has one on Node 20, 22 and 24', () => {
    const usable = SQLITE_DRIVERS.filter((d) => probeSqliteDriver(d).ok);
    expect(usable.length).toBeGreaterThan(0);
    const db = openSqliteDatabase(':memory:', { driver: undefined });
    try {
      // Node >= 22.13 has node:sqlite unflagged (unless a test forces a driver through the environment).
      if (!process.env.SWITCHBOARD_SQLITE_DRIVER) expect(db.driver).toBe(usable[0]);
      if (nodeMajor >= 23 || (nodeMajor === 22 && nodeMinor >= 13)) expect(probeSqliteDriver('node').ok).toBe(true);
    } finally {
      db.close();
    }
  });

  it.skipIf(!(nodeMajor > 24 || (nodeMajor === 24 && nodeMinor >= 19)))('refuses better-sqlite3 12 where it aborts the process (Node >= 24.19)', () => {
    expect(probeSqliteDriver('better-sqlite3')).toEqual({ ok: false, reason: expect.stringMatching(/GC finalizer/) });
  });

  it('says why a forced driver cannot be used here, and what to do', () => {
    const unusable = SQLITE_DRIVERS.filter((d) => !probeSqliteDriver(d).ok);
    for (const driver of unusable) {
      const reason = (probeSqliteDriver(driver) as { reason: string }).reason;
      expect(() => openSqliteDatabase(':memory:', { driver })).toThrow(SqliteDriverUnavailableError);
      expect(() => openSqliteDatabase(':memory:', { driver })).toThrow(new RegExp(`${driver}: .*${reason.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*unset SWITCHBOARD_SQLITE_DRIVER`));
    }
  });
});

/**
 * Node 22 prints "ExperimentalWarning: SQLite is an experimental feature" when node:sqlite loads;
 * the driver drops exactly that one. Checked in a fresh process (the warning comes once per process)
 * through the built library, as the CLI and an MCP host load it.
 */
describe.skipIf(!probeSqliteDriver('node').ok)('loading node:sqlite', () => {
  const lib = resolve(import.meta.dirname, '../../dist/core/store/sqlite-driver.js');

  it.skipIf(!existsSync(lib))('prints no ExperimentalWarning on stderr, and lets other warnings through', () => {
    const script = `const { openSqliteDatabase } = await import(${JSON.stringify(pathToFileURL(lib).href)});
openSqliteDatabase(':memory:', { driver: 'node' }).close();
process.emitWarning('something else is experimental', 'ExperimentalWarning');`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stderr).not.toMatch(/SQLite is an experimental feature/);
    expect(out.stderr).toMatch(/ExperimentalWarning: something else is experimental/);
  });
});
