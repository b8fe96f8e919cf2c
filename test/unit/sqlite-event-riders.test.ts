import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { SqliteEventLog } from '../../src/core/store/sqlite-events.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';

const event = (content: string): SwitchboardEvent => ({ type: 'message', content, conversationId: 'c1', runId: 'r1', rootRunId: 'r1', parentRunId: null, agent: 'proxy', depth: 0, at: 1 });

describe('SQLite event appends ride along with the next transaction', () => {
  const dirs: string[] = [];
  const open = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-riders-'));
    dirs.push(dir);
    const store = new SqliteStore({ path: join(dir, 'sb.db') });
    await store.init();
    const log = new SqliteEventLog(store);
    await log.init();
    return { store, log };
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

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
