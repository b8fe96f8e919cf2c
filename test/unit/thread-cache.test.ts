import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ThreadCache } from '../../src/core/runs/thread-cache.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';

let store: SqliteStore;
const threads: string[] = [];

beforeEach(async () => {
  store = new SqliteStore({ path: ':memory:' });
  await store.init();
  const { conversation } = await store.getOrCreateConversation('test:cache', { surface: 'test', userId: 'alice' }, 'conv_1');
  threads.length = 0;
  for (const agent of ['a', 'b', 'c', 'd']) threads.push((await store.getOrCreateThread(conversation.id, agent, `thr_${agent}`)).id);
});
afterEach(async () => {
  await store.close();
});

const say = async (threadId: string, content: string) =>
  store.appendMessages(threadId, [{ id: `msg_${threadId}_${content}`, role: 'user', author: 'alice', content, runId: null }]);

describe('ThreadCache', () => {
  it('never forgets a tail somebody holds: what the holder appends stays in what it reads', async () => {
    const cache = new ThreadCache(store, { maxThreads: 1 });
    const held = await Promise.all(threads.map((t) => cache.acquire(t)));
    expect(cache.size).toBe(4);
    for (const tail of held) tail.append(await say(tail.threadId, 'one'));
    // Another acquire of the same thread shares the tail rather than replacing it.
    const again = await cache.acquire(threads[0]!);
    again.append(await say(threads[0]!, 'two'));
    expect(held[0]!.messages.map((m) => m.content)).toEqual(['one', 'two']);
    for (const tail of held.slice(1)) expect(tail.messages.map((m) => m.content)).toEqual(['one']);
    again.release();
    for (const tail of held) tail.release();
    // Idle: only `maxThreads` are kept, the most recently released.
    expect(cache.size).toBe(1);
  });

  it('catches up with messages written elsewhere when a thread is acquired again', async () => {
    const cache = new ThreadCache(store, { maxThreads: 4 });
    const first = await cache.acquire(threads[0]!);
    first.append(await say(threads[0]!, 'mine'));
    first.release();
    first.release(); // idempotent
    await say(threads[0]!, 'theirs');
    const second = await cache.acquire(threads[0]!);
    expect(second.messages.map((m) => m.content)).toEqual(['mine', 'theirs']);
    second.release();
  });

  it('reads nothing when the message just written shows the tail is complete, and catches up when it does not', async () => {
    // Counts the store's reads of messages; everything else is the real store.
    let reads = 0;
    const counted = Object.assign(Object.create(store) as SqliteStore, {
      tailMessages: (...a: Parameters<SqliteStore['tailMessages']>) => (reads++, store.tailMessages(...a)),
      listMessages: (...a: Parameters<SqliteStore['listMessages']>) => (reads++, store.listMessages(...a)),
    });
    const cache = new ThreadCache(counted, { maxThreads: 4 });
    // The thread's first message: nothing came before it.
    const [first] = await say(threads[0]!, 'first');
    const a = await cache.acquire(threads[0]!, first);
    a.append([first!]);
    a.release();
    // The next message right after what the cache holds.
    const [second] = await say(threads[0]!, 'second');
    const b = await cache.acquire(threads[0]!, second);
    b.append([second!]);
    expect(b.messages.map((m) => m.content)).toEqual(['first', 'second']);
    b.release();
    expect(reads).toBe(0);
    // Someone else wrote in between: the gap is read.
    await say(threads[0]!, 'theirs');
    const [fourth] = await say(threads[0]!, 'fourth');
    const c = await cache.acquire(threads[0]!, fourth);
    expect(c.messages.map((m) => m.content)).toEqual(['first', 'second', 'theirs', 'fourth']);
    c.release();
    // A thread not cached whose newest is not its first: read as before.
    const [later] = await say(threads[1]!, 'one').then(() => say(threads[1]!, 'two'));
    const d = await cache.acquire(threads[1]!, later);
    expect(d.messages.map((m) => m.content)).toEqual(['one', 'two']);
    d.release();
    expect(reads).toBe(2);
  });

  it('keeps nothing of a thread whose first read failed', async () => {
    const cache = new ThreadCache(store, { maxThreads: 4 });
    await store.close();
    await expect(cache.acquire(threads[0]!)).rejects.toThrow();
    expect(cache.size).toBe(0);
    store = new SqliteStore({ path: ':memory:' });
    await store.init();
  });
});
