import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { SqliteEventLog } from '../../src/core/store/sqlite-events.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';

const event = (content: string): SwitchboardEvent => ({ type: 'message', content, conversationId: 'c1', runId: 'r1', rootRunId: 'r1', parentRunId: null, agent: 'proxy', depth: 0, at: 1 });

const dirs: string[] = [];
const open = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-riders-'));
  dirs.push(dir);
  const store = new SqliteStore({ path: join(dir, 'sb.db') });
  await store.init();
  const log = new SqliteEventLog(store);
  await log.init();
  const count = () => store.db.prepare('SELECT COUNT(*) AS n FROM events').get();
  return { store, log, count };
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('SQLite event appends ride along with the next transaction', () => {

  it('stores waiting appends inside a transaction the store opens, numbered in the order appended', async () => {
    const { store, log } = await open();
    const seqs = [log.append(event('a')), log.append(event('b'))];
    // Nothing is stored until a transaction (the store's, or the log's own on the next turn) commits.
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 0 });
    store.db.transaction(() => {});
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 2 });
    expect(await Promise.all(seqs)).toEqual([1, 2]);
    expect((await log.readAfter('c1', 0)).map((e) => (e as { content: string }).content)).toEqual(['a', 'b']);
    await store.close();
  });

  it('keeps the appends of a transaction that rolled back and stores them in the next one', async () => {
    const { store, log } = await open();
    const seq = log.append(event('kept'));
    expect(() =>
      store.db.transaction(() => {
        throw new Error('the step write failed');
      }),
    ).toThrow('the step write failed');
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 0 });
    expect(await seq).toBe(1); // stored by the log's own flush on a later turn
    expect((await log.readAfter('c1', 0)).map((e) => (e as { content: string }).content)).toEqual(['kept']);
    await store.close();
  });

  it('stores what still waits when the log closes', async () => {
    const { store, log } = await open();
    const seq = log.append(event('last'));
    await log.close();
    expect(await seq).toBe(1);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 1 });
    await store.close();
  });
});

describe('SQLite events stored in the transaction of the write they describe', () => {

  it('stores them after the write in its own transaction, behind the appends that waited', async () => {
    const { store, log, count } = await open();
    const earlier = log.append(event('earlier'));
    const { result, stored } = log.during(
      async () => store.db.transaction(() => 'written'),
      (r) => [event(`${r} 1`), event(`${r} 2`)],
    );
    // In the same commit, before any flush of the log's own.
    expect(count()).toEqual({ n: 3 });
    expect(await result).toBe('written');
    expect(await earlier).toBe(1);
    expect((await stored)?.map((e) => [e.seq, (e as { content: string }).content])).toEqual([[2, 'written 1'], [3, 'written 2']]);
    await store.close();
  });

  it('stores none of them when the write rolls back, and keeps the appends that waited', async () => {
    const { store, log, count } = await open();
    const kept = log.append(event('kept'));
    const { result, stored } = log.during(
      async () =>
        store.db.transaction(() => {
          throw new Error('the step write failed');
        }),
      () => [event('never')],
    );
    await expect(result).rejects.toThrow('the step write failed');
    expect(await stored).toBeNull();
    expect(await kept).toBe(1);
    expect(count()).toEqual({ n: 1 });
    expect((await log.readAfter('c1', 0)).map((e) => (e as { content: string }).content)).toEqual(['kept']);
    await store.close();
  });

  it('leaves them to the caller when the write opens no transaction', async () => {
    const { store, log, count } = await open();
    const { result, stored } = log.during(async () => 'read only', () => [event('not here')]);
    expect(await result).toBe('read only');
    expect(await stored).toBeNull();
    expect(count()).toEqual({ n: 0 });
    await store.close();
  });
});
