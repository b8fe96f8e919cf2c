import { describe, expect, it } from 'vitest';
import { DuplicateToolResultError, NotFoundError } from '../../src/core/errors.js';
import type { Run, Store } from '../../src/core/store/types.js';
import { id, msg, queue, seed } from './store-contract.js';

/**
 * The contract's specs for writes that merge two steps of a run into one transaction (claim + input,
 * last model step + completion, a tool step recorded whole). Each must write all of itself or
 * nothing. Called by `describeStoreContract`, inside its setup.
 */
export function describeMergedWrites(ctx: { store(): Store; second(): Promise<Store>; setNow(at: number): void }): void {
  const { store, second, setNow } = ctx;

  /** A claimed run (its input is message seq 1 of the thread). */
  async function claimed(s: Store) {
    const { conversation, thread } = await seed(s);
    await queue(s, conversation.id, thread.id);
    const c = (await s.claimNextRun(thread.id, 'p1', 9_000, 1_000, id('msg')))!;
    return { conversation, thread, run: c.run };
  }

  describe('merged writes', () => {
    it('a claim appends the input of a run that never started, in the same transaction, once', async () => {
      const s = store();
      const { conversation, thread } = await seed(s);
      const input = { content: 'look', images: ['file:///a.png'], author: 'slack:T1:U1' };
      const base = { conversationId: conversation.id, threadId: thread.id, agent: 'proxy', requestedBy: null, parentRunId: null, parentToolCallId: null, depth: 0 };
      const r1 = await s.createRun({ ...base, id: 'run_in_1', input });
      const r2 = await s.createRun({ ...base, id: 'run_in_2', input: null });

      const c1 = (await s.claimNextRun(thread.id, 'p1', 5_000, 1_500, 'msg_in_1'))!;
      expect(c1.run).toMatchObject({ id: r1.id, status: 'in_progress', leaseOwner: 'p1', startedAt: 1_500 });
      expect(c1.input).toEqual({ id: 'msg_in_1', threadId: thread.id, seq: 1, role: 'user', author: 'slack:T1:U1', content: 'look', images: ['file:///a.png'], runId: r1.id, createdAt: 1_500 });
      expect(await s.listMessages(thread.id)).toEqual([c1.input]);

      // A run that started before (here put back in the queue) keeps the input it has: nothing is appended again.
      await s.updateRun(r1.id, { status: 'queued', leaseOwner: null, leaseUntil: null });
      const again = (await s.claimNextRun(thread.id, 'p2', 5_000, 1_600, 'msg_in_unused'))!;
      expect(again).toMatchObject({ run: { id: r1.id, startedAt: 1_500, leaseOwner: 'p2' }, input: null });

      // A run without input appends nothing.
      await s.updateRun(r1.id, { status: 'completed' });
      const c2 = (await s.claimNextRun(thread.id, 'p1', 5_000, 1_700, 'msg_in_2'))!;
      expect(c2).toMatchObject({ run: { id: r2.id }, input: null });
      expect((await s.listMessages(thread.id)).map((m) => m.id)).toEqual(['msg_in_1']);
    });

    it('appends the input exactly once when two connections race for the claim', async () => {
      const a = store();
      const b = await second();
      const { conversation, thread } = await seed(a);
      const run = await queue(a, conversation.id, thread.id);
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).claimNextRun(thread.id, `p${i}`, 9_000, 1_000, `msg_race_${i}`)));
      const won = claims.filter((c) => c !== null);
      expect(won).toHaveLength(1);
      expect(won[0]!.run.id).toBe(run.id);
      expect((await b.listMessages(thread.id)).map((m) => [m.id, m.seq, m.runId])).toEqual([[won[0]!.input!.id, 1, run.id]]);
    });

    it('a claim whose input cannot be appended claims nothing', async () => {
      const s = store();
      const { conversation, thread } = await seed(s);
      const [taken] = await s.appendMessages(thread.id, [msg('already here')]);
      const run = await queue(s, conversation.id, thread.id);
      // The input's id is taken: the insert fails after the run was updated, and the update goes too.
      await expect(s.claimNextRun(thread.id, 'p1', 5_000, 1_500, taken!.id)).rejects.toThrow();
      expect(await s.getRun(run.id)).toEqual(run);
      expect(await s.listMessages(thread.id)).toEqual([taken]);
      expect(await s.claimNextRun(thread.id, 'p1', 5_000, 1_500, id('msg'))).toMatchObject({ run: { id: run.id }, input: { seq: 2, content: 'hi' } });
    });

    it('the last model step completes the run in the same transaction', async () => {
      const s = store();
      const { conversation, thread, run } = await claimed(s);
      const next = await queue(s, conversation.id, thread.id);
      setNow(2_000);
      const step = { id: 'step_f', runId: run.id, data: { model: 'gpt-a' }, usage: { promptTokens: 7, completionTokens: 3 }, cost: 0.5 };
      const out = await s.recordModelStep(step, { ...msg('the answer', { role: 'assistant', author: 'proxy', runId: run.id }), threadId: thread.id }, { complete: { endedAt: 2_500 } });
      expect(out.message).toMatchObject({ seq: 2, content: 'the answer' });
      expect(out.step).toMatchObject({ id: 'step_f', status: 'completed', seq: 1 });
      expect(out.run).toMatchObject({
        id: run.id,
        status: 'completed',
        reply: 'the answer',
        endedAt: 2_500,
        leaseOwner: null,
        leaseUntil: null,
        progressAt: 2_000,
        startedAt: 1_000,
        usage: { promptTokens: 7, completionTokens: 3, cost: 0.5, modelCalls: 1 },
      });
      expect(await s.getRun(run.id)).toEqual(out.run);
      // The thread is free at once.
      expect(await s.claimNextRun(thread.id, 'p1', 9_000, 2_600, id('msg'))).toMatchObject({ run: { id: next.id } });
      // Without `complete`, the run goes on and no run is returned.
      const more = await s.recordModelStep({ ...step, id: 'step_g', runId: next.id }, { ...msg('tools', { role: 'assistant', author: 'proxy', runId: next.id }), threadId: thread.id });
      expect(more.run).toBeUndefined();
      expect(await s.getRun(next.id)).toMatchObject({ status: 'in_progress', reply: null, endedAt: null, leaseOwner: 'p1' });
    });

    it('a last model step that fails leaves the run as it was', async () => {
      const s = store();
      const { thread, run } = await claimed(s);
      const before = (await s.getRun(run.id)) as Run;
      const [taken] = await s.appendMessages(thread.id, [msg('taken')]);
      const step = { id: 'step_x', runId: run.id, data: { model: 'gpt-a' }, usage: { promptTokens: 1, completionTokens: 1 }, cost: 1 };
      const complete = { complete: { endedAt: 3_000 } };
      // The message insert fails after the step: neither the step nor the completion stays.
      await expect(s.recordModelStep(step, { ...msg('dup', { role: 'assistant', author: 'proxy', runId: run.id }), id: taken!.id, threadId: thread.id }, complete)).rejects.toThrow();
      await expect(s.recordModelStep(step, { ...msg('lost', { role: 'assistant', author: 'proxy' }), threadId: 'no_thread' }, complete)).rejects.toBeInstanceOf(NotFoundError);
      await expect(s.recordModelStep({ ...step, runId: 'run_missing' }, { ...msg('lost', { role: 'assistant', author: 'proxy' }), threadId: thread.id }, complete)).rejects.toThrow();
      expect(await s.getRun(run.id)).toEqual(before);
      expect(await s.listRunSteps(run.id)).toEqual([]);
      expect((await s.listMessages(thread.id)).map((m) => m.content)).toEqual(['hi', 'taken']);
    });

    it('records a tool step whole, with its result message', async () => {
      const s = store();
      const { thread, run } = await claimed(s);
      setNow(3_000);
      const data = { toolCallId: 'call_1', name: 'send_message', arguments: '{"recipient":"coder"}' };
      const out = await s.recordToolStep(
        { id: 'step_t', runId: run.id, data, status: 'completed', startedAt: 2_000 },
        { ...msg('the reply', { role: 'tool', author: 'proxy', toolCallId: 'call_1', runId: run.id }), threadId: thread.id },
      );
      expect(out.step).toEqual({ id: 'step_t', runId: run.id, seq: 1, type: 'tool_call', status: 'completed', data, usage: null, cost: 0, createdAt: 2_000, endedAt: 3_000 });
      expect(out.message).toMatchObject({ seq: 2, role: 'tool', toolCallId: 'call_1', content: 'the reply', createdAt: 3_000 });
      expect((await s.getRun(run.id))!.progressAt).toBe(3_000);
      setNow(4_000);
      const failed = await s.recordToolStep(
        { id: 'step_u', runId: run.id, data: { toolCallId: 'call_2', name: 'x' }, status: 'failed', startedAt: 4_000 },
        { ...msg('bad args', { role: 'tool', author: 'proxy', toolCallId: 'call_2', isError: true, runId: run.id }), threadId: thread.id },
      );
      expect(failed.step).toMatchObject({ seq: 2, status: 'failed', createdAt: 4_000, endedAt: 4_000 });
      expect(failed.message).toMatchObject({ seq: 3, isError: true });
      expect(await s.listRunSteps(run.id)).toEqual([out.step, failed.step]);
    });

    it('a tool step that fails to record writes nothing', async () => {
      const s = store();
      const { thread, run } = await claimed(s);
      const [taken] = await s.appendMessages(thread.id, [msg('taken')]);
      setNow(5_000);
      const step = { id: 'step_v', runId: run.id, data: { toolCallId: 'call_1', name: 'x' }, status: 'completed' as const, startedAt: 4_000 };
      const result = { ...msg('r', { role: 'tool', author: 'proxy', toolCallId: 'call_1', runId: run.id }), threadId: thread.id };
      await expect(s.recordToolStep(step, { ...result, id: taken!.id })).rejects.toThrow();
      await expect(s.recordToolStep(step, { ...result, threadId: 'no_thread' })).rejects.toBeInstanceOf(NotFoundError);
      await expect(s.recordToolStep({ ...step, runId: 'run_missing' }, result)).rejects.toBeInstanceOf(NotFoundError);
      expect(await s.listRunSteps(run.id)).toEqual([]);
      expect((await s.listMessages(thread.id)).map((m) => m.content)).toEqual(['hi', 'taken']);
      expect((await s.getRun(run.id))!.progressAt).toBe(1_000);
    });

    it('keeps one result per tool call: a second one is refused, however it is written', async () => {
      const s = store();
      const { thread, run } = await claimed(s);
      const calls = [{ id: 'call_1', name: 'x', arguments: '{}' }, { id: 'call_2', name: 'x', arguments: '{}' }];
      const turn = () => msg('', { role: 'assistant', author: 'proxy', toolCalls: calls, runId: run.id });
      const result = (content: string, toolCallId = 'call_1') => ({ ...msg(content, { role: 'tool', author: 'proxy', toolCallId, runId: run.id }), threadId: thread.id });
      const step = (stepId: string, toolCallId = 'call_1') => ({ id: stepId, runId: run.id, data: { toolCallId }, status: 'completed' as const, startedAt: 1_000 });
      await s.appendMessages(thread.id, [turn()]);
      await s.recordToolStep(step('step_a'), result('first'));
      await expect(s.recordToolStep(step('step_b'), result('again'))).rejects.toBeInstanceOf(DuplicateToolResultError);
      await expect(s.appendMessages(thread.id, [result('again')])).rejects.toBeInstanceOf(DuplicateToolResultError);
      const started = await s.startToolStep({ id: 'step_c', runId: run.id, data: { toolCallId: 'call_1' } });
      await expect(s.finishToolStep(started.id, 'completed', result('again'))).rejects.toBeInstanceOf(DuplicateToolResultError);
      // The turn's other call still gets its result; so does the same id in a later turn (servers that number calls per turn).
      await s.recordToolStep(step('step_d', 'call_2'), result('second call', 'call_2'));
      await s.appendMessages(thread.id, [turn(), result('next turn')]);
      expect((await s.listMessages(thread.id)).map((m) => m.content)).toEqual(['hi', '', 'first', 'second call', '', 'next turn']);
      expect((await s.listRunSteps(run.id)).map((st) => [st.id, st.status])).toEqual([['step_a', 'completed'], ['step_c', 'started'], ['step_d', 'completed']]);
    });

    it('lets one of two connections writing the same tool result at once win', async () => {
      const a = store();
      const b = await second();
      const { thread, run } = await claimed(a);
      await a.appendMessages(thread.id, [msg('', { role: 'assistant', author: 'proxy', toolCalls: [{ id: 'call_1', name: 'x', arguments: '{}' }], runId: run.id })]);
      const write = (s: Store, n: number) =>
        s.recordToolStep(
          { id: `step_${n}`, runId: run.id, data: { toolCallId: 'call_1' }, status: 'completed', startedAt: 1_000 },
          { ...msg(`r${n}`, { role: 'tool', author: 'proxy', toolCallId: 'call_1', runId: run.id }), threadId: thread.id },
        );
      const outcomes = await Promise.allSettled([write(a, 1), write(b, 2), write(a, 3), write(b, 4)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(DuplicateToolResultError);
      expect((await a.listMessages(thread.id)).filter((m) => m.role === 'tool')).toHaveLength(1);
      expect(await a.listRunSteps(run.id)).toHaveLength(1);
    });

    it('keeps step and message seq gapless when tool steps are recorded from two connections at once', async () => {
      const a = store();
      const b = await second();
      const { thread, run } = await claimed(a);
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => {
          const s = i % 2 ? a : b;
          const result = { ...msg(`r${i}`, { role: 'tool', author: 'proxy', toolCallId: `call_${i}`, runId: run.id }), threadId: thread.id };
          if (i % 3 === 0) return s.appendMessages(thread.id, [msg(`m${i}`)]);
          return s.recordToolStep({ id: `st_${i}`, runId: run.id, data: { toolCallId: `call_${i}` }, status: 'completed', startedAt: 1_000 }, result);
        }),
      );
      expect((await a.listRunSteps(run.id)).map((st) => st.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect((await a.listMessages(thread.id)).map((m) => m.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    });
  });
}
