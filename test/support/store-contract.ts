import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import type { NewMessage, Principal, Run, Store } from '../../src/core/store/types.js';
import { describeIntakeContract } from './store-contract-intake.js';
import { describeMergedWrites } from './store-contract-writes.js';

/**
 * The specs every Store must pass, whatever its engine. A store's own test file calls
 * `describeStoreContract` with a way to open it and keeps only what is specific to its engine.
 */

export interface StoreUnderTest {
  /** An initialised store on an empty database, on the contract's clock. */
  store: Store;
  /**
   * Another initialised store on the same database (a second connection to the file, another
   * replica's pool), on the same clock. Also how the contract reopens the data after closing `store`.
   */
  second(): Promise<Store>;
  /** Closes every store opened for the spec. */
  cleanup(): Promise<void>;
}

export const alice: Principal = { surface: 'slack', userId: 'U1', tenant: 'T1', displayName: 'Alice' };
export const bob: Principal = { surface: 'cli', userId: 'bob' };

let n = 0;
export const id = (prefix: string) => `${prefix}_${(++n).toString().padStart(6, '0')}`;

export function msg(content: string, extra: Partial<NewMessage> = {}): NewMessage & { id: string } {
  return { id: id('msg'), role: 'user', author: 'cli:bob', content, runId: null, ...extra };
}

export async function seed(s: Store, agent = 'proxy', key = `cli:${id('k')}`) {
  const { conversation } = await s.getOrCreateConversation(key, bob, id('conv'));
  const thread = await s.getOrCreateThread(conversation.id, agent, id('thr'));
  return { conversation, thread };
}

export async function queue(s: Store, conversationId: string, threadId: string, agent = 'proxy', extra: Partial<Run> = {}): Promise<Run> {
  return s.createRun({
    id: id('run'),
    conversationId,
    threadId,
    agent,
    input: { content: 'hi', author: 'cli:bob' },
    requestedBy: bob,
    parentRunId: extra.parentRunId ?? null,
    parentToolCallId: extra.parentToolCallId ?? null,
    depth: extra.depth ?? 0,
  });
}

/** Claims the next run of the thread (a new id for the input message it may append); the run, or null. */
export async function claim(s: Store, threadId: string, owner: string, leaseUntil: number, now: number): Promise<Run | null> {
  return (await s.claimNextRun(threadId, owner, leaseUntil, now, id('msg')))?.run ?? null;
}

export function describeStoreContract(name: string, open: (clock: () => number) => Promise<StoreUnderTest>): void {
  describe(name, () => {
    let now = 1_000;
    const clock = () => now;
    let h: StoreUnderTest | undefined;
    /** The store of the current spec. */
    const store = (): Store => h!.store;

    beforeEach(async () => {
      now = 1_000;
      h = await open(clock);
    });

    afterEach(async () => {
      await h?.cleanup();
      h = undefined;
    });

    describe('conversations and threads', () => {
      it('creates a conversation once per key and reports whether it created it', async () => {
        const s = store();
        const a = await s.getOrCreateConversation('slack:T1:C1:1.1', alice, 'conv_a');
        const b = await s.getOrCreateConversation('slack:T1:C1:1.1', bob, 'conv_b');
        expect(a.created).toBe(true);
        expect(b.created).toBe(false);
        expect(b.conversation).toEqual({ id: 'conv_a', key: 'slack:T1:C1:1.1', owner: alice, title: null, createdAt: 1_000, access: 'private' });
        expect(await s.getConversation('conv_b')).toBeNull();
        expect(await s.getConversationByKey('slack:T1:C1:1.1')).toEqual(a.conversation);

        now = 2_000;
        await s.getOrCreateConversation('cli:notes', bob, 'conv_c');
        expect((await s.listConversations()).map((c) => c.id)).toEqual(['conv_c', 'conv_a']);
        expect((await s.listConversations({ ownerSurface: 'slack', ownerUserId: 'U1' })).map((c) => c.id)).toEqual(['conv_a']);
        expect((await s.listConversations({ limit: 1 })).map((c) => c.id)).toEqual(['conv_c']);
      });

      it('creates one conversation per key when two connections race for it', async () => {
        const a = store();
        const b = await h!.second();
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).getOrCreateConversation('teams:race', bob, `conv_r${i}`)));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.conversation.id)).size).toBe(1);
      });

      it('keeps one thread per (conversation, agent)', async () => {
        const s = store();
        const { conversation: c1 } = await s.getOrCreateConversation('k1', bob, 'c1');
        const { conversation: c2 } = await s.getOrCreateConversation('k2', bob, 'c2');
        const t1 = await s.getOrCreateThread(c1.id, 'coder', 't1');
        const again = await s.getOrCreateThread(c1.id, 'coder', 't_other');
        const t2 = await s.getOrCreateThread(c1.id, 'vision', 't2');
        const t3 = await s.getOrCreateThread(c2.id, 'coder', 't3');
        expect(again).toEqual(t1);
        expect([t1.id, t2.id, t3.id]).toEqual(['t1', 't2', 't3']);
        expect(await s.getThread('t_other')).toBeNull();
        expect((await s.listThreads(c1.id)).map((t) => t.agent)).toEqual(['coder', 'vision']);
        await expect(s.getOrCreateThread('nope', 'coder', 't4')).rejects.toBeInstanceOf(NotFoundError);

        const b = await h!.second();
        const raced = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : b).getOrCreateThread(c2.id, 'planner', `tp${i}`)));
        expect(new Set(raced.map((t) => t.id)).size).toBe(1);
      });
    });

    describe('messages', () => {
      it('assigns gapless seq in order under concurrent appends from two connections', async () => {
        const a = store();
        const b = await h!.second();
        const { thread } = await seed(a);
        const batches = Array.from({ length: 60 }, (_, i) => [msg(`b${i}-1`), msg(`b${i}-2`), msg(`b${i}-3`)]);
        const results = await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).appendMessages(thread.id, batch)));
        for (const [i, stored] of results.entries()) {
          expect(stored.map((m) => m.content)).toEqual([`b${i}-1`, `b${i}-2`, `b${i}-3`]);
          expect(stored[1]!.seq).toBe(stored[0]!.seq + 1);
          expect(stored[2]!.seq).toBe(stored[0]!.seq + 2);
        }
        const all = await b.listMessages(thread.id);
        expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 180 }, (_, i) => i + 1));
        expect(new Set(all.map((m) => m.id)).size).toBe(180);
      });

      it('round-trips message fields and pages with afterSeq, limit and tail', async () => {
        const s = store();
        const { thread } = await seed(s);
        const stored = await s.appendMessages(thread.id, [
          msg('look', { images: ['file:///a.png'] }),
          msg('', { role: 'assistant', author: 'proxy', toolCalls: [{ id: 'call_1', name: 'send_message', arguments: '{"recipient":"coder"}' }], runId: 'run_x' }),
          msg('boom', { role: 'tool', author: 'proxy', toolCallId: 'call_1', isError: true, runId: 'run_x' }),
          msg('four'),
          msg('five'),
        ]);
        expect(stored[0]).toEqual({ id: stored[0]!.id, threadId: thread.id, seq: 1, role: 'user', author: 'cli:bob', content: 'look', images: ['file:///a.png'], runId: null, createdAt: 1_000 });
        expect(stored[1]!.toolCalls).toEqual([{ id: 'call_1', name: 'send_message', arguments: '{"recipient":"coder"}' }]);
        expect(stored[2]).toMatchObject({ role: 'tool', toolCallId: 'call_1', isError: true, runId: 'run_x' });
        expect(stored[3]!.isError).toBeUndefined();
        expect(await s.listMessages(thread.id)).toEqual(stored);
        expect((await s.listMessages(thread.id, { afterSeq: 2 })).map((m) => m.seq)).toEqual([3, 4, 5]);
        expect((await s.listMessages(thread.id, { afterSeq: 1, limit: 2 })).map((m) => m.seq)).toEqual([2, 3]);
        expect((await s.tailMessages(thread.id, 2)).map((m) => m.content)).toEqual(['four', 'five']);
        expect(await s.tailMessages(thread.id, 10)).toEqual(stored);
        expect(await s.appendMessages(thread.id, [])).toEqual([]);
        await expect(s.appendMessages('no_thread', [msg('x')])).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('runs', () => {
      it('claims one run at a time per thread, the next only after the first ends', async () => {
        const s = store();
        const { conversation, thread } = await seed(s);
        const r1 = await queue(s, conversation.id, thread.id);
        now = 1_001;
        const r2 = await queue(s, conversation.id, thread.id);
        expect(r1).toMatchObject({ status: 'queued', startedAt: null, leaseOwner: null, usage: { promptTokens: 0, completionTokens: 0, cost: 0, modelCalls: 0 } });

        const claimed = await claim(s, thread.id, 'p1', 5_000, 1_500);
        expect(claimed).toMatchObject({ id: r1.id, status: 'in_progress', leaseOwner: 'p1', leaseUntil: 5_000, startedAt: 1_500, progressAt: 1_500 });
        expect(await claim(s, thread.id, 'p2', 5_000, 1_600)).toBeNull();
        // An expired lease still blocks the queue: the orphan is resumed (adoptRun) before anything else starts.
        expect(await claim(s, thread.id, 'p2', 9_000, 6_000)).toBeNull();

        await s.updateRun(r1.id, { status: 'requires_action' });
        expect(await claim(s, thread.id, 'p2', 9_000, 6_000)).toBeNull();

        const done = await s.updateRun(r1.id, { status: 'completed', reply: 'ok', endedAt: 6_100, leaseOwner: null, leaseUntil: null });
        expect(done).toMatchObject({ status: 'completed', reply: 'ok', endedAt: 6_100, leaseOwner: null, leaseUntil: null, startedAt: 1_500 });
        expect(await claim(s, thread.id, 'p2', 9_000, 6_200)).toMatchObject({ id: r2.id, leaseOwner: 'p2' });
        await s.updateRun(r2.id, { status: 'failed', error: 'x' });
        expect(await claim(s, thread.id, 'p2', 9_000, 6_300)).toBeNull();
        expect(await claim(s, 'no_thread', 'p2', 9_000, 6_300)).toBeNull();
      });

      it('lets a queued run on another thread start while one thread is busy', async () => {
        const s = store();
        const { conversation, thread } = await seed(s, 'proxy');
        const coder = await s.getOrCreateThread(conversation.id, 'coder', id('thr'));
        await queue(s, conversation.id, thread.id);
        await queue(s, conversation.id, thread.id);
        const c = await queue(s, conversation.id, coder.id, 'coder');
        expect(await claim(s, thread.id, 'p1', 5_000, 1_000)).not.toBeNull();
        expect(await claim(s, thread.id, 'p1', 5_000, 1_000)).toBeNull();
        expect(await claim(s, coder.id, 'p1', 5_000, 1_000)).toMatchObject({ id: c.id, status: 'in_progress' });
      });

      it('lets exactly one of two connections claim a thread, and the next run only after the first ends', async () => {
        const a = store();
        const b = await h!.second();
        const threads: { conversationId: string; threadId: string; runs: Run[] }[] = [];
        for (let i = 0; i < 20; i++) {
          const { conversation, thread } = await seed(a);
          const runs = [await queue(a, conversation.id, thread.id), await queue(a, conversation.id, thread.id)];
          threads.push({ conversationId: conversation.id, threadId: thread.id, runs });
        }
        // Many claim attempts per thread, from both connections at once.
        const claims = await Promise.all(threads.flatMap((t) => Array.from({ length: 6 }, (_, i) => claim(i % 2 ? a : b, t.threadId, i % 2 ? 'A' : 'B', 9_000, 1_000))));
        for (const [i, t] of threads.entries()) {
          const won = claims.slice(6 * i, 6 * i + 6).filter((r) => r !== null);
          expect(won).toHaveLength(1);
          expect(won[0]!.id).toBe(t.runs[0]!.id);
          expect((await b.listRuns({ threadId: t.threadId })).map((r) => r.status)).toEqual(['in_progress', 'queued']);
        }
        // Meanwhile a queued run on another thread is claimable.
        const other = await seed(b, 'coder');
        const o = await queue(b, other.conversation.id, other.thread.id, 'coder');
        expect(await claim(a, other.thread.id, 'A', 9_000, 1_000)).toMatchObject({ id: o.id });

        // End the first runs; the second ones are claimed exactly once each.
        for (const t of threads) await a.updateRun(t.runs[0]!.id, { status: 'completed', endedAt: 2_000 });
        const next = await Promise.all(threads.flatMap((t) => [claim(a, t.threadId, 'A', 9_000, 2_000), claim(b, t.threadId, 'B', 9_000, 2_000)]));
        for (const [i, t] of threads.entries()) {
          const won = [next[2 * i], next[2 * i + 1]].filter((r) => r !== null);
          expect(won.map((r) => r!.id)).toEqual([t.runs[1]!.id]);
        }
      });

      it('lists orphans and adopts a run only on exactly the lease the caller saw', async () => {
        const s = store();
        const { conversation, thread } = await seed(s);
        const other = await seed(s, 'coder');
        const r1 = await queue(s, conversation.id, thread.id);
        const q = await queue(s, other.conversation.id, other.thread.id, 'coder');
        await claim(s, thread.id, 'p1', 2_000, 1_000);

        expect((await s.listOrphanedRuns(1_500)).map((r) => r.id)).toEqual([q.id]);
        expect((await s.listOrphanedRuns(2_500)).map((r) => r.id)).toEqual([r1.id, q.id]);

        const b = await h!.second();
        const p1 = { leaseOwner: 'p1', leaseUntil: 2_000 };
        expect(await b.adoptRun(r1.id, 'p2', 9_000, { leaseOwner: 'p1', leaseUntil: 1_999 })).toBe(false); // not the lease it holds
        expect(await s.adoptRun(r1.id, 'p1', 3_000, p1)).toBe(false); // its own run: p1 is executing it
        expect(await b.adoptRun(r1.id, 'p2', 9_000, p1)).toBe(true);
        expect(await s.getRun(r1.id)).toMatchObject({ leaseOwner: 'p2', leaseUntil: 9_000, status: 'in_progress' });
        // A second pass working from the same (now stale) snapshot loses, whoever makes it.
        expect(await b.adoptRun(r1.id, 'p2', 9_500, p1)).toBe(false);
        expect(await s.adoptRun(r1.id, 'p3', 9_500, p1)).toBe(false);
        expect(await s.adoptRun(q.id, 'p1', 9_000, { leaseOwner: null, leaseUntil: null })).toBe(false); // queued: claim it, don't adopt it

        await b.renewLeases('p2', 20_000);
        expect((await s.getRun(r1.id))!.leaseUntil).toBe(20_000);
        await s.renewLeases('p1', 30_000);
        expect((await s.getRun(r1.id))!.leaseUntil).toBe(20_000);
        // p2 renewed: a snapshot taken before the renewal no longer matches.
        expect(await s.adoptRun(r1.id, 'p3', 40_000, { leaseOwner: 'p2', leaseUntil: 9_000 })).toBe(false);

        // requires_action waits on a person: not an orphan, but adoptable on its lease.
        await s.updateRun(r1.id, { status: 'requires_action' });
        expect((await s.listOrphanedRuns(25_000)).map((r) => r.id)).toEqual([q.id]);
        expect(await s.adoptRun(r1.id, 'p3', 40_000, { leaseOwner: 'p2', leaseUntil: 20_000 })).toBe(true);

        // A released lease (no owner) is adoptable; a finished run never is.
        await s.updateRun(r1.id, { status: 'in_progress', leaseOwner: null, leaseUntil: null });
        expect(await s.adoptRun(r1.id, 'p4', 50_000, { leaseOwner: null, leaseUntil: null })).toBe(true);
        await s.updateRun(r1.id, { status: 'completed' });
        expect(await s.adoptRun(r1.id, 'p5', 60_000, { leaseOwner: 'p4', leaseUntil: 50_000 })).toBe(false);
        expect(await s.adoptRun('run_missing', 'p3', 50_000, { leaseOwner: null, leaseUntil: null })).toBe(false);
      });

      it('lets exactly one of two connections adopt an orphan', async () => {
        const a = store();
        const b = await h!.second();
        const { conversation, thread } = await seed(a);
        const r = await queue(a, conversation.id, thread.id);
        await claim(a, thread.id, 'dead', 2_000, 1_000);
        const seen = { leaseOwner: 'dead', leaseUntil: 2_000 };
        const won = await Promise.all([a.adoptRun(r.id, 'A', 9_000, seen), b.adoptRun(r.id, 'B', 9_000, seen)]);
        expect(won.filter(Boolean)).toHaveLength(1);
        expect((await a.getRun(r.id))!.leaseOwner).toBe(won[0] ? 'A' : 'B');
      });

      it('updateRun throws NotFoundError for a missing run', async () => {
        const s = store();
        await expect(s.updateRun('run_missing', { status: 'failed' })).rejects.toBeInstanceOf(NotFoundError);
        await expect(s.updateRun('run_missing', {})).rejects.toBeInstanceOf(NotFoundError);
      });

      it('finds the child run of a tool call and filters runs', async () => {
        const s = store();
        const { conversation, thread } = await seed(s);
        const coder = await s.getOrCreateThread(conversation.id, 'coder', id('thr'));
        const parent = await queue(s, conversation.id, thread.id);
        const child = await queue(s, conversation.id, coder.id, 'coder', { parentRunId: parent.id, parentToolCallId: 'call_1', depth: 1 });
        expect(await s.findChildRun(parent.id, 'call_1')).toEqual(child);
        expect(await s.findChildRun(parent.id, 'call_2')).toBeNull();
        expect((await s.listRuns({ parentRunId: parent.id })).map((r) => r.id)).toEqual([child.id]);
        expect((await s.listRuns({ conversationId: conversation.id })).map((r) => r.id)).toEqual([parent.id, child.id]);
        expect(await s.listRuns({ conversationId: conversation.id, statuses: ['in_progress'] })).toEqual([]);
        expect(await s.listRuns({ conversationId: conversation.id, statuses: [] })).toEqual([]);
        expect((await s.listRuns({ conversationId: conversation.id, statuses: ['queued', 'in_progress'], limit: 1 })).map((r) => r.id)).toEqual([parent.id]);
        expect(child).toMatchObject({ depth: 1, input: { content: 'hi', author: 'cli:bob' }, requestedBy: bob });
        await expect(queue(s, 'no_conv', thread.id)).rejects.toBeInstanceOf(NotFoundError);
        await expect(queue(s, conversation.id, 'no_thread')).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe('steps and usage', () => {
      it('records model and tool steps with their messages and rolls usage into the run', async () => {
        const s = store();
        const { conversation, thread } = await seed(s);
        await queue(s, conversation.id, thread.id);
        const run = (await claim(s, thread.id, 'p1', 9_000, 1_000))!; // appends the input: message seq 1

        now = 2_000;
        const first = await s.recordModelStep(
          { id: 'step_1', runId: run.id, data: { model: 'gpt-a', finishReason: 'tool_calls', latencyMs: 12 }, usage: { promptTokens: 100, completionTokens: 20 }, cost: 0.01 },
          { ...msg('', { role: 'assistant', author: 'proxy', runId: run.id, toolCalls: [{ id: 'call_1', name: 'echo', arguments: '{}' }] }), threadId: thread.id },
        );
        expect(first.step).toEqual({
          id: 'step_1',
          runId: run.id,
          seq: 1,
          type: 'model_call',
          status: 'completed',
          data: { model: 'gpt-a', finishReason: 'tool_calls', latencyMs: 12 },
          usage: { promptTokens: 100, completionTokens: 20 },
          cost: 0.01,
          createdAt: 2_000,
          endedAt: 2_000,
        });
        expect(first.message.seq).toBe(2);

        now = 3_000;
        const tool = await s.startToolStep({ id: 'step_2', runId: run.id, data: { toolCallId: 'call_1', name: 'echo', arguments: '{}' } });
        expect(tool).toMatchObject({ seq: 2, type: 'tool_call', status: 'started', usage: null, cost: 0, endedAt: null });
        expect((await s.getRun(run.id))!.progressAt).toBe(3_000);

        now = 4_000;
        const finished = await s.finishToolStep('step_2', 'completed', { ...msg('echoed', { role: 'tool', author: 'proxy', toolCallId: 'call_1', runId: run.id }), threadId: thread.id });
        expect(finished.step).toMatchObject({ id: 'step_2', status: 'completed', endedAt: 4_000 });
        expect(finished.message).toMatchObject({ seq: 3, toolCallId: 'call_1' });
        expect((await s.getRun(run.id))!.progressAt).toBe(4_000);

        now = 5_000;
        await s.recordModelStep(
          { id: 'step_3', runId: run.id, data: { model: 'gpt-b' }, usage: { promptTokens: 150, completionTokens: 30 }, cost: 0.02 },
          { ...msg('done', { role: 'assistant', author: 'proxy', runId: run.id }), threadId: thread.id },
        );
        const after = (await s.getRun(run.id))!;
        expect(after.usage.promptTokens).toBe(250);
        expect(after.usage.completionTokens).toBe(50);
        expect(after.usage.modelCalls).toBe(2);
        expect(after.usage.cost).toBeCloseTo(0.03);
        expect(after.progressAt).toBe(5_000);
        expect((await s.listRunSteps(run.id)).map((st) => [st.seq, st.id])).toEqual([[1, 'step_1'], [2, 'step_2'], [3, 'step_3']]);
        expect((await s.listMessages(thread.id)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      });

      it('keeps step and message seq gapless when steps and appends interleave across connections', async () => {
        const a = store();
        const b = await h!.second();
        const { conversation, thread } = await seed(a);
        const run = await queue(a, conversation.id, thread.id);
        await Promise.all(
          Array.from({ length: 30 }, (_, i) => {
            const s = i % 2 ? a : b;
            if (i % 3 === 0) return s.appendMessages(thread.id, [msg(`m${i}`)]);
            if (i % 3 === 1) return s.startToolStep({ id: `st_${i}`, runId: run.id, data: { name: 'x' } });
            return s.recordModelStep(
              { id: `sm_${i}`, runId: run.id, data: { model: 'gpt-a' }, usage: { promptTokens: 1, completionTokens: 1 }, cost: 0 },
              { ...msg(`a${i}`, { role: 'assistant', author: 'proxy', runId: run.id }), threadId: thread.id },
            );
          }),
        );
        expect((await a.listRunSteps(run.id)).map((st) => st.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect((await a.listMessages(thread.id)).map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect((await a.getRun(run.id))!.usage.modelCalls).toBe(10);
      });

      it('writes nothing when part of a step fails', async () => {
        const s = store();
        const { conversation, thread } = await seed(s);
        const run = await queue(s, conversation.id, thread.id);
        await expect(
          s.recordModelStep(
            { id: 'step_x', runId: run.id, data: { model: 'gpt-a' }, usage: { promptTokens: 1, completionTokens: 1 }, cost: 1 },
            { ...msg('lost'), threadId: 'no_such_thread' },
          ),
        ).rejects.toBeInstanceOf(NotFoundError);
        expect(await s.listRunSteps(run.id)).toEqual([]);
        expect((await s.getRun(run.id))!.usage.modelCalls).toBe(0);
        await expect(s.finishToolStep('step_missing', 'failed', { ...msg('x'), threadId: thread.id })).rejects.toBeInstanceOf(NotFoundError);
        await expect(s.startToolStep({ id: 'step_y', runId: 'run_missing', data: {} })).rejects.toBeInstanceOf(NotFoundError);
        // A duplicate message id fails the insert after the step was written: the step goes too.
        const [kept] = await s.appendMessages(thread.id, [msg('kept')]);
        await expect(
          s.recordModelStep(
            { id: 'step_z', runId: run.id, data: { model: 'gpt-a' }, usage: { promptTokens: 1, completionTokens: 1 }, cost: 1 },
            { ...msg('dup', { role: 'assistant', author: 'proxy' }), id: kept!.id, threadId: thread.id },
          ),
        ).rejects.toThrow();
        expect(await s.listRunSteps(run.id)).toEqual([]);
        expect((await s.listMessages(thread.id)).map((m) => m.content)).toEqual(['kept']);
        expect((await s.getRun(run.id))!.usage).toEqual({ promptTokens: 0, completionTokens: 0, cost: 0, modelCalls: 0 });
      });

      it('sums usage by agent, conversation and model', async () => {
        const s = store();
        const one = await seed(s, 'proxy', 'k1');
        const two = await seed(s, 'proxy', 'k2');
        const coder = await s.getOrCreateThread(one.conversation.id, 'coder', 'thr_coder');
        const step = async (runId: string, threadId: string, model: string, p: number, c: number, cost: number) =>
          s.recordModelStep({ id: id('step'), runId, data: { model }, usage: { promptTokens: p, completionTokens: c }, cost }, { ...msg('a', { role: 'assistant', author: 'x' }), threadId });
        const r1 = await queue(s, one.conversation.id, one.thread.id);
        const r2 = await queue(s, one.conversation.id, coder.id, 'coder');
        const r3 = await queue(s, two.conversation.id, two.thread.id);
        await step(r1.id, one.thread.id, 'gpt-a', 10, 1, 0.5);
        await step(r1.id, one.thread.id, 'gpt-b', 20, 2, 0.25);
        await step(r2.id, coder.id, 'gpt-b', 30, 3, 0.25);
        await step(r3.id, two.thread.id, 'gpt-a', 40, 4, 1);

        expect(await s.usageBy('agent')).toEqual([
          { key: 'coder', promptTokens: 30, completionTokens: 3, cost: 0.25, modelCalls: 1 },
          { key: 'proxy', promptTokens: 70, completionTokens: 7, cost: 1.75, modelCalls: 3 },
        ]);
        expect(await s.usageBy('agent', { conversationId: one.conversation.id })).toEqual([
          { key: 'coder', promptTokens: 30, completionTokens: 3, cost: 0.25, modelCalls: 1 },
          { key: 'proxy', promptTokens: 30, completionTokens: 3, cost: 0.75, modelCalls: 2 },
        ]);
        expect(await s.usageBy('model')).toEqual([
          { key: 'gpt-a', promptTokens: 50, completionTokens: 5, cost: 1.5, modelCalls: 2 },
          { key: 'gpt-b', promptTokens: 50, completionTokens: 5, cost: 0.5, modelCalls: 2 },
        ]);
        expect(await s.usageBy('model', { conversationId: two.conversation.id })).toEqual([{ key: 'gpt-a', promptTokens: 40, completionTokens: 4, cost: 1, modelCalls: 1 }]);
        const byConv = await s.usageBy('conversation');
        expect(byConv.find((u) => u.key === one.conversation.id)).toMatchObject({ promptTokens: 60, completionTokens: 6, cost: 1, modelCalls: 3 });
        expect(byConv.find((u) => u.key === two.conversation.id)).toMatchObject({ promptTokens: 40, completionTokens: 4, cost: 1, modelCalls: 1 });
        expect(await s.usageBy('agent', { conversationId: 'no_conv' })).toEqual([]);
      });
    });

    describeMergedWrites({
      store,
      second: () => h!.second(),
      setNow: (at) => {
        now = at;
      },
    });

    describeIntakeContract({ store, second: () => h!.second() });

    describe('lifecycle', () => {
      it('keeps everything after closing and reopening', async () => {
        const a = store();
        const { conversation, thread } = await seed(a);
        const run = await queue(a, conversation.id, thread.id);
        await claim(a, thread.id, 'p1', 9_000, 1_000);
        await a.appendMessages(thread.id, [msg('one'), msg('two')]);
        await a.recordModelStep(
          { id: 'step_k', runId: run.id, data: { model: 'gpt-a' }, usage: { promptTokens: 5, completionTokens: 6 }, cost: 0.5 },
          { ...msg('three', { role: 'assistant', author: 'proxy', runId: run.id }), threadId: thread.id },
        );
        const before = {
          conv: await a.getConversation(conversation.id),
          threads: await a.listThreads(conversation.id),
          messages: await a.listMessages(thread.id),
          run: await a.getRun(run.id),
          steps: await a.listRunSteps(run.id),
        };
        await a.close();
        await a.close(); // idempotent

        const b = await h!.second();
        expect({
          conv: await b.getConversation(conversation.id),
          threads: await b.listThreads(conversation.id),
          messages: await b.listMessages(thread.id),
          run: await b.getRun(run.id),
          steps: await b.listRunSteps(run.id),
        }).toEqual(before);
        expect(before.messages.map((m) => m.content)).toEqual(['hi', 'one', 'two', 'three']); // 'hi': the input the claim appended
        expect(before.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
        expect((await b.appendMessages(thread.id, [msg('five')]))[0]!.seq).toBe(5);
      });

      it('init is idempotent: initialising again, or from another connection, keeps the data', async () => {
        const s = store();
        const { conversation } = await s.getOrCreateConversation('kept', bob, 'conv_kept');
        await s.init();
        expect(await s.getConversation(conversation.id)).toEqual(conversation);
        const b = await h!.second();
        await b.init();
        expect(await b.getConversation(conversation.id)).toEqual(conversation);
        expect(await s.getConversationByKey('kept')).toEqual(conversation);
      });
    });
  });
}
