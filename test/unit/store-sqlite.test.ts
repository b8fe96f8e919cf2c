import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import type { NewMessage, Principal, Run } from '../../src/core/store/types.js';

const alice: Principal = { surface: 'slack', userId: 'U1', tenant: 'T1', displayName: 'Alice' };
const bob: Principal = { surface: 'cli', userId: 'bob' };

let n = 0;
const id = (prefix: string) => `${prefix}_${(++n).toString().padStart(6, '0')}`;

function msg(content: string, extra: Partial<NewMessage> = {}): NewMessage & { id: string } {
  return { id: id('msg'), role: 'user', author: 'cli:bob', content, runId: null, ...extra };
}

let dir: string;
const open: SqliteStore[] = [];
let now = 1_000;
const clock = () => now;

async function store(path = ':memory:', extra: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}): Promise<SqliteStore> {
  const s = new SqliteStore({ path, clock, ...extra });
  await s.init();
  open.push(s);
  return s;
}

async function seed(s: SqliteStore, agent = 'proxy', key = `cli:${id('k')}`) {
  const { conversation } = await s.getOrCreateConversation(key, bob, id('conv'));
  const thread = await s.getOrCreateThread(conversation.id, agent, id('thr'));
  return { conversation, thread };
}

async function queue(s: SqliteStore, conversationId: string, threadId: string, agent = 'proxy', extra: Partial<Run> = {}): Promise<Run> {
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

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-store-'));
  now = 1_000;
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore: conversations and threads', () => {
  it('creates a conversation once per key and reports whether it created it', async () => {
    const s = await store();
    const a = await s.getOrCreateConversation('slack:T1:C1:1.1', alice, 'conv_a');
    const b = await s.getOrCreateConversation('slack:T1:C1:1.1', bob, 'conv_b');
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.conversation).toEqual({ id: 'conv_a', key: 'slack:T1:C1:1.1', owner: alice, title: null, createdAt: 1_000 });
    expect(await s.getConversation('conv_b')).toBeNull();
    expect(await s.getConversationByKey('slack:T1:C1:1.1')).toEqual(a.conversation);

    now = 2_000;
    await s.getOrCreateConversation('cli:notes', bob, 'conv_c');
    expect((await s.listConversations()).map((c) => c.id)).toEqual(['conv_c', 'conv_a']);
    expect((await s.listConversations({ ownerSurface: 'slack', ownerUserId: 'U1' })).map((c) => c.id)).toEqual(['conv_a']);
    expect((await s.listConversations({ limit: 1 })).map((c) => c.id)).toEqual(['conv_c']);
  });

  it('keeps one thread per (conversation, agent)', async () => {
    const s = await store();
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
  });
});

describe('SqliteStore: messages', () => {
  it('assigns gapless seq in order under concurrent appends from two connections', async () => {
    const path = join(dir, 'db', 'sb.db');
    const a = await store(path);
    const b = await store(path);
    const { thread } = await seed(a);
    const batches = Array.from({ length: 60 }, (_, i) => [msg(`b${i}-1`), msg(`b${i}-2`), msg(`b${i}-3`)]);
    const results = await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).appendMessages(thread.id, batch)));
    for (const stored of results) {
      expect(stored[1]!.seq).toBe(stored[0]!.seq + 1);
      expect(stored[2]!.seq).toBe(stored[0]!.seq + 2);
    }
    const all = await b.listMessages(thread.id);
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 180 }, (_, i) => i + 1));
    expect(new Set(all.map((m) => m.id)).size).toBe(180);
  });

  it('round-trips message fields and pages with afterSeq, limit and tail', async () => {
    const s = await store();
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
    await expect(s.appendMessages('no_thread', [msg('x')])).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('SqliteStore: runs', () => {
  it('claims one run at a time per thread, the next only after the first ends', async () => {
    const s = await store();
    const { conversation, thread } = await seed(s);
    const r1 = await queue(s, conversation.id, thread.id);
    now = 1_001;
    const r2 = await queue(s, conversation.id, thread.id);
    expect(r1).toMatchObject({ status: 'queued', startedAt: null, leaseOwner: null, usage: { promptTokens: 0, completionTokens: 0, cost: 0, modelCalls: 0 } });

    const claimed = await s.claimNextRun(thread.id, 'p1', 5_000, 1_500);
    expect(claimed).toMatchObject({ id: r1.id, status: 'in_progress', leaseOwner: 'p1', leaseUntil: 5_000, startedAt: 1_500, progressAt: 1_500 });
    expect(await s.claimNextRun(thread.id, 'p2', 5_000, 1_600)).toBeNull();
    // An expired lease still blocks the queue: the orphan is resumed (adoptRun) before anything else starts.
    expect(await s.claimNextRun(thread.id, 'p2', 9_000, 6_000)).toBeNull();

    await s.updateRun(r1.id, { status: 'requires_action' });
    expect(await s.claimNextRun(thread.id, 'p2', 9_000, 6_000)).toBeNull();

    const done = await s.updateRun(r1.id, { status: 'completed', reply: 'ok', endedAt: 6_100, leaseOwner: null, leaseUntil: null });
    expect(done).toMatchObject({ status: 'completed', reply: 'ok', endedAt: 6_100, leaseOwner: null, leaseUntil: null, startedAt: 1_500 });
    expect(await s.claimNextRun(thread.id, 'p2', 9_000, 6_200)).toMatchObject({ id: r2.id, leaseOwner: 'p2' });
    await s.updateRun(r2.id, { status: 'failed', error: 'x' });
    expect(await s.claimNextRun(thread.id, 'p2', 9_000, 6_300)).toBeNull();
  });

  it('lets a queued run on another thread start while one thread is busy', async () => {
    const s = await store();
    const { conversation, thread } = await seed(s, 'proxy');
    const coder = await s.getOrCreateThread(conversation.id, 'coder', id('thr'));
    await queue(s, conversation.id, thread.id);
    await queue(s, conversation.id, thread.id);
    const c = await queue(s, conversation.id, coder.id, 'coder');
    expect(await s.claimNextRun(thread.id, 'p1', 5_000, 1_000)).not.toBeNull();
    expect(await s.claimNextRun(thread.id, 'p1', 5_000, 1_000)).toBeNull();
    expect(await s.claimNextRun(coder.id, 'p1', 5_000, 1_000)).toMatchObject({ id: c.id, status: 'in_progress' });
  });

  it('lets exactly one of two connections to one file claim a thread', async () => {
    const path = join(dir, 'race.db');
    const a = await store(path);
    const b = await store(path);
    const threads: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { conversation, thread } = await seed(a);
      await queue(a, conversation.id, thread.id);
      await queue(a, conversation.id, thread.id);
      threads.push(thread.id);
    }
    const claims = await Promise.all(threads.flatMap((t) => [a.claimNextRun(t, 'A', 9_000, 1_000), b.claimNextRun(t, 'B', 9_000, 1_000)]));
    for (let i = 0; i < threads.length; i++) {
      const won = [claims[2 * i], claims[2 * i + 1]].filter((r) => r !== null);
      expect(won).toHaveLength(1);
      const runs = await b.listRuns({ threadId: threads[i]! });
      expect(runs.map((r) => r.status)).toEqual(['in_progress', 'queued']);
    }
  });

  it('lists orphans and adopts runs only when the lease allows', async () => {
    const s = await store();
    const { conversation, thread } = await seed(s);
    const other = await seed(s, 'coder');
    const r1 = await queue(s, conversation.id, thread.id);
    const q = await queue(s, other.conversation.id, other.thread.id, 'coder');
    await s.claimNextRun(thread.id, 'p1', 2_000, 1_000);

    expect((await s.listOrphanedRuns(1_500)).map((r) => r.id)).toEqual([q.id]);
    expect((await s.listOrphanedRuns(2_500)).map((r) => r.id)).toEqual([r1.id, q.id]);

    expect(await s.adoptRun(r1.id, 'p2', 9_000, 1_500)).toBe(false); // p1's lease is live
    expect(await s.adoptRun(r1.id, 'p1', 3_000, 1_500)).toBe(true); // own run
    expect(await s.adoptRun(r1.id, 'p2', 9_000, 3_500)).toBe(true); // expired
    expect(await s.getRun(r1.id)).toMatchObject({ leaseOwner: 'p2', leaseUntil: 9_000, status: 'in_progress' });
    expect(await s.adoptRun(r1.id, 'p1', 9_000, 3_500)).toBe(false);
    expect(await s.adoptRun(q.id, 'p1', 9_000, 3_500)).toBe(false); // queued: claim it, don't adopt it

    await s.renewLeases('p2', 20_000);
    expect((await s.getRun(r1.id))!.leaseUntil).toBe(20_000);
    await s.renewLeases('p1', 30_000);
    expect((await s.getRun(r1.id))!.leaseUntil).toBe(20_000);

    // requires_action waits on a person: not an orphan, but adoptable once its lease ran out.
    await s.updateRun(r1.id, { status: 'requires_action' });
    expect((await s.listOrphanedRuns(25_000)).map((r) => r.id)).toEqual([q.id]);
    expect(await s.adoptRun(r1.id, 'p3', 40_000, 25_000)).toBe(true);

    await s.updateRun(r1.id, { status: 'completed' });
    expect(await s.adoptRun(r1.id, 'p3', 50_000, 45_000)).toBe(false);
    expect(await s.adoptRun('run_missing', 'p3', 50_000, 45_000)).toBe(false);
  });

  it('updateRun throws NotFoundError for a missing run', async () => {
    const s = await store();
    await expect(s.updateRun('run_missing', { status: 'failed' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.updateRun('run_missing', {})).rejects.toBeInstanceOf(NotFoundError);
  });

  it('finds the child run of a tool call and filters runs', async () => {
    const s = await store();
    const { conversation, thread } = await seed(s);
    const coder = await s.getOrCreateThread(conversation.id, 'coder', id('thr'));
    const parent = await queue(s, conversation.id, thread.id);
    const child = await queue(s, conversation.id, coder.id, 'coder', { parentRunId: parent.id, parentToolCallId: 'call_1', depth: 1 });
    expect(await s.findChildRun(parent.id, 'call_1')).toEqual(child);
    expect(await s.findChildRun(parent.id, 'call_2')).toBeNull();
    expect((await s.listRuns({ parentRunId: parent.id })).map((r) => r.id)).toEqual([child.id]);
    expect((await s.listRuns({ conversationId: conversation.id })).map((r) => r.id)).toEqual([parent.id, child.id]);
    expect((await s.listRuns({ conversationId: conversation.id, statuses: ['in_progress'] }))).toEqual([]);
    expect((await s.listRuns({ conversationId: conversation.id, statuses: ['queued', 'in_progress'], limit: 1 })).map((r) => r.id)).toEqual([parent.id]);
    expect(child).toMatchObject({ depth: 1, input: { content: 'hi', author: 'cli:bob' }, requestedBy: bob });
  });
});

describe('SqliteStore: steps and usage', () => {
  it('records model and tool steps with their messages and rolls usage into the run', async () => {
    const s = await store();
    const { conversation, thread } = await seed(s);
    await queue(s, conversation.id, thread.id);
    const run = (await s.claimNextRun(thread.id, 'p1', 9_000, 1_000))!;

    now = 2_000;
    const first = await s.recordModelStep(
      { id: 'step_1', runId: run.id, data: { model: 'gpt-a', finishReason: 'tool_calls', latencyMs: 12 }, usage: { promptTokens: 100, completionTokens: 20 }, cost: 0.01 },
      { ...msg('', { role: 'assistant', author: 'proxy', runId: run.id, toolCalls: [{ id: 'call_1', name: 'echo', arguments: '{}' }] }), threadId: thread.id },
    );
    expect(first.step).toEqual({ id: 'step_1', runId: run.id, seq: 1, type: 'model_call', status: 'completed', data: { model: 'gpt-a', finishReason: 'tool_calls', latencyMs: 12 }, usage: { promptTokens: 100, completionTokens: 20 }, cost: 0.01, createdAt: 2_000, endedAt: 2_000 });
    expect(first.message.seq).toBe(1);

    now = 3_000;
    const tool = await s.startToolStep({ id: 'step_2', runId: run.id, data: { toolCallId: 'call_1', name: 'echo', arguments: '{}' } });
    expect(tool).toMatchObject({ seq: 2, type: 'tool_call', status: 'started', usage: null, cost: 0, endedAt: null });
    expect((await s.getRun(run.id))!.progressAt).toBe(3_000);

    now = 4_000;
    const finished = await s.finishToolStep('step_2', 'completed', { ...msg('echoed', { role: 'tool', author: 'proxy', toolCallId: 'call_1', runId: run.id }), threadId: thread.id });
    expect(finished.step).toMatchObject({ id: 'step_2', status: 'completed', endedAt: 4_000 });
    expect(finished.message).toMatchObject({ seq: 2, toolCallId: 'call_1' });

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
    expect((await s.listMessages(thread.id)).map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('writes nothing when part of a step fails', async () => {
    const s = await store();
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
    expect(await s.listMessages(thread.id)).toEqual([]);
  });

  it('sums usage by agent, conversation and model', async () => {
    const s = await store();
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
    expect(byConv.find((u) => u.key === one.conversation.id)).toMatchObject({ promptTokens: 60, modelCalls: 3 });
    expect(byConv.find((u) => u.key === two.conversation.id)).toMatchObject({ promptTokens: 40, modelCalls: 1 });
  });
});

describe('SqliteStore: files and migrations', () => {
  it('applies migrations once, records the version and uses WAL', async () => {
    const path = join(dir, 'nested', 'deeper', 'sb.db');
    const a = await store(path);
    await a.init();
    const b = await store(path);
    expect(a.schemaVersions().map((v) => v.version)).toEqual([1]);
    expect(b.schemaVersions()).toEqual(a.schemaVersions());
    expect(a.schemaVersions()[0]!.appliedAt).toBe(1_000);
    expect(a.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(a.db.pragma('foreign_keys', { simple: true })).toBe(1);

    const extra = { version: 2, name: 'test: widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY)' };
    const c = await store(path, { extraMigrations: [extra] });
    const d = await store(path, { extraMigrations: [extra] });
    expect(d.schemaVersions().map((v) => v.version)).toEqual([1, 2]);
    c.transaction(() => c.db.prepare('INSERT INTO widgets (id) VALUES (?)').run('w1'));
    expect(d.db.prepare('SELECT id FROM widgets').pluck().all()).toEqual(['w1']);
    expect(a.migrate([extra])).toEqual([]);

    // Two modules that picked the same version must not silently skip one of them.
    expect(() => a.migrate([{ version: 2, name: 'test: gadgets', sql: 'CREATE TABLE gadgets (id TEXT)' }])).toThrow(/clashes/);
    expect(() => new SqliteStore({ path, extraMigrations: [{ version: 1, name: 'dup', sql: '' }] })).toThrow(/share version 1/);
  });

  it('keeps everything after closing and reopening the file', async () => {
    const path = join(dir, 'keep.db');
    const a = await store(path);
    const { conversation, thread } = await seed(a);
    const run = await queue(a, conversation.id, thread.id);
    await a.claimNextRun(thread.id, 'p1', 9_000, 1_000);
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

    const b = await store(path);
    expect({
      conv: await b.getConversation(conversation.id),
      threads: await b.listThreads(conversation.id),
      messages: await b.listMessages(thread.id),
      run: await b.getRun(run.id),
      steps: await b.listRunSteps(run.id),
    }).toEqual(before);
    expect(before.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect((await b.appendMessages(thread.id, [msg('four')]))[0]!.seq).toBe(4);
  });

  it('refuses to be used before init', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    open.push(s);
    await expect(s.getRun('x')).rejects.toThrow(/init\(\)/);
  });
});

/**
 * A second OS process writing the same file. The child imports the TypeScript source through a
 * tiny loader that transpiles it with the project's own `typescript` package.
 */
describe('SqliteStore: two processes on one file', () => {
  const root = resolve(import.meta.dirname, '../..');
  const req = createRequire(import.meta.url);

  function writeChild(): string {
    const tsUrl = pathToFileURL(req.resolve('typescript')).href;
    writeFileSync(
      join(dir, 'loader.mjs'),
      `import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from ${JSON.stringify(tsUrl)};
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL && context.parentURL.endsWith('.ts')) {
    const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  const out = ts.transpileModule(await readFile(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./loader.mjs', import.meta.url);\n`);
    const storeUrl = pathToFileURL(join(root, 'src/core/store/sqlite.ts')).href;
    writeFileSync(
      join(dir, 'child.mjs'),
      `import { SqliteStore } from ${JSON.stringify(storeUrl)};
const { path, threadId, claimThreads, batches } = JSON.parse(process.argv[2]);
const store = new SqliteStore({ path });
await store.init();
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
process.stdin.destroy();
const claimed = [];
for (let i = 0; i < batches; i++) {
  await store.appendMessages(threadId, [0, 1].map((k) => ({ id: 'child_' + i + '_' + k, role: 'user', author: 'child', content: 'c' + i + '.' + k, runId: null })));
  const t = claimThreads[claimThreads.length - 1 - (i % claimThreads.length)];
  const run = await store.claimNextRun(t, 'child', Date.now() + 60000, Date.now());
  if (run) claimed.push(run.id);
}
await store.close();
process.stdout.write(JSON.stringify({ claimed }) + '\\n');
`,
    );
    return join(dir, 'child.mjs');
  }

  it('keeps seq gapless and one claim per thread while another process writes', async () => {
    const path = join(dir, 'shared.db');
    const s = await store(path);
    const { thread } = await seed(s);
    const claimThreads: string[] = [];
    for (let i = 0; i < 30; i++) {
      const t = await seed(s);
      await queue(s, t.conversation.id, t.thread.id);
      await queue(s, t.conversation.id, t.thread.id);
      claimThreads.push(t.thread.id);
    }
    const batches = 300;
    const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, writeChild(), JSON.stringify({ path, threadId: thread.id, claimThreads, batches })], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    await new Promise<void>((res, rej) => {
      const timer = setInterval(() => {
        if (out.includes('ready')) {
          clearInterval(timer);
          res();
        }
      }, 5);
      void exited.then(() => {
        clearInterval(timer);
        rej(new Error(`child exited early: ${err}`));
      });
    });
    child.stdin.end('go\n');

    const claimed: string[] = [];
    for (let i = 0; i < batches; i++) {
      await s.appendMessages(thread.id, [msg(`p${i}.0`, { author: 'parent' }), msg(`p${i}.1`, { author: 'parent' })]);
      const run = await s.claimNextRun(claimThreads[i % claimThreads.length]!, 'parent', Date.now() + 60_000, Date.now());
      if (run) claimed.push(run.id);
      await new Promise((r) => setImmediate(r));
    }
    const killer = setTimeout(() => child.kill(), 20_000);
    expect(await exited, err).toBe(0);
    clearTimeout(killer);
    const childClaimed = (JSON.parse(out.trim().split('\n').pop()!) as { claimed: string[] }).claimed;

    const all = await s.listMessages(thread.id);
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 4 * batches }, (_, i) => i + 1));
    for (const author of ['parent', 'child']) {
      const mine = all.filter((m) => m.author === author);
      expect(mine).toHaveLength(2 * batches);
      // each process's batches stay contiguous and in its own order
      for (let i = 0; i < batches; i++) expect(mine[2 * i + 1]!.seq).toBe(mine[2 * i]!.seq + 1);
      const prefix = author === 'parent' ? 'p' : 'c';
      expect(mine.map((m) => m.content)).toEqual(Array.from({ length: 2 * batches }, (_, i) => `${prefix}${Math.floor(i / 2)}.${i % 2}`));
    }

    expect(claimed.length + childClaimed.length).toBe(claimThreads.length);
    expect(new Set([...claimed, ...childClaimed]).size).toBe(claimThreads.length);
    for (const t of claimThreads) {
      const runs = await s.listRuns({ threadId: t });
      expect(runs.map((r) => r.status)).toEqual(['in_progress', 'queued']);
    }
  });
});
