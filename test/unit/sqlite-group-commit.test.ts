import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { SqliteEventLog } from '../../src/core/store/sqlite-events.js';
import { openSqliteDatabase } from '../../src/core/store/sqlite-driver.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';

const event = (content: string): SwitchboardEvent => ({ type: 'message', content, conversationId: 'c1', runId: 'r1', rootRunId: 'r1', parentRunId: null, agent: 'proxy', depth: 0, at: 1 });

/** Group commit (sqlite-riders.ts): the writes made in one turn of the event loop share one transaction. */
describe('SQLite group commit', () => {
  const dirs: string[] = [];
  const open = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-group-'));
    dirs.push(dir);
    const path = join(dir, 'sb.db');
    const store = new SqliteStore({ path });
    await store.init();
    store.db.exec('CREATE TABLE widgets (id TEXT PRIMARY KEY)');
    // Another connection to the same file: it sees only what is committed.
    const other = openSqliteDatabase(path, { busyTimeoutMs: 5000 });
    const committed = () => (other.prepare('SELECT id FROM widgets ORDER BY id').all() as { id: string }[]).map((r) => r.id);
    const insert = store.db.prepare('INSERT INTO widgets (id) VALUES (?)');
    return { store, other, committed, insert };
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('commits the writes of one turn together, and resolves each only after that commit', async () => {
    const { store, other, committed, insert } = await open();
    const order: string[] = [];
    const writes = ['a', 'b', 'c'].map((id) =>
      store.db.write(() => insert.run(id)).then(() => {
        order.push(id);
        // Resolved only once another connection sees it.
        expect(committed()).toContain(id);
      }),
    );
    expect(committed()).toEqual([]); // queued, not yet made
    const before = (other.prepare('PRAGMA data_version').get() as { data_version: number }).data_version;
    await Promise.all(writes);
    expect(order).toEqual(['a', 'b', 'c']);
    // One commit by the store's connection: the other connection's data_version moved once.
    expect((other.prepare('PRAGMA data_version').get() as { data_version: number }).data_version).toBe(before + 1);
    other.close();
    await store.close();
  });

  it('fails only the write that threw; the others of its turn are committed', async () => {
    const { store, other, committed, insert } = await open();
    const a = store.db.write(() => insert.run('a'));
    const dup = store.db.write(() => {
      insert.run('x');
      insert.run('a'); // primary key taken: this write rolls back to its savepoint, 'x' with it
    });
    const c = store.db.write(() => insert.run('c'));
    await expect(a).resolves.toBeDefined();
    await expect(dup).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_CONSTRAINT/) });
    await expect(c).resolves.toBeDefined();
    expect(committed()).toEqual(['a', 'c']);
    other.close();
    await store.close();
  });

  it('stores the events of a write that failed in its turn only if they did not describe it', async () => {
    const { store, other, insert } = await open();
    const log = new SqliteEventLog(store);
    await log.init();
    const before = log.append(event('emitted before'));
    const failed = log.during(() => store.db.write(() => insert.run('a') && insert.run('a')), () => [event('describes the failed write')]);
    const ok = log.during(() => store.db.write(() => insert.run('b')), () => [event('describes b')]);
    await expect(failed.result).rejects.toBeDefined();
    await ok.result;
    expect(await failed.stored).toBeNull();
    expect(await before).toBe(1);
    expect((await ok.stored)?.map((e) => e.seq)).toEqual([2]);
    expect((await log.readAfter('c1', 0)).map((e) => (e as { content: string }).content)).toEqual(['emitted before', 'describes b']);
    other.close();
    await store.close();
  });

  it('a transaction made now takes the queued writes first, in the same commit', async () => {
    const { store, other, committed, insert } = await open();
    const queued = store.db.write(() => insert.run('a'));
    store.db.transaction(() => insert.run('b'));
    expect(committed()).toEqual(['a', 'b']);
    await queued;
    other.close();
    await store.close();
  });

  it('commits what is queued when the store closes', async () => {
    const { store, other, committed, insert } = await open();
    const queued = store.db.write(() => insert.run('a'));
    await store.close();
    await queued;
    expect(committed()).toEqual(['a']);
    other.close();
  });
});
