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

  it('keeps nothing of a thread whose first read failed', async () => {
    const cache = new ThreadCache(store, { maxThreads: 4 });
    await store.close();
    await expect(cache.acquire(threads[0]!)).rejects.toThrow();
    expect(cache.size).toBe(0);
    store = new SqliteStore({ path: ':memory:' });
    await store.init();
  });
});
