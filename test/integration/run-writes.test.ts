import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRequest, ChatResult, ModelClient } from '../../src/core/model/types.js';
import type { SqliteStore } from '../../src/core/store/sqlite.js';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';

/**
 * What the engine writes for a run. How many write transactions it commits for one task, counted
 * from the SQLite WAL itself (with automatic checkpoints off, every commit appends frames to the WAL
 * and marks its last frame as a commit frame): a change that adds a commit to the hot path shows
 * up as a failure, not as a slower benchmark. And the start of a run the claim did not start.
 */

/** Commit frames in a WAL file (frames whose "database size after commit" field is set, of the current salt). */
function walCommits(path: string): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return 0;
  }
  if (size < 32) return 0;
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    const pageSize = header.readUInt32BE(8);
    const salt1 = header.readUInt32BE(16);
    const salt2 = header.readUInt32BE(20);
    const frame = Buffer.alloc(24);
    let commits = 0;
    for (let off = 32; off + 24 + pageSize <= size; off += 24 + pageSize) {
      readSync(fd, frame, 0, 24, off);
      if (frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break;
      if (frame.readUInt32BE(4) !== 0) commits++;
    }
    return commits;
  } finally {
    closeSync(fd);
  }
}

/** proxy → send_message(vision_agent) → vision_agent answers → proxy answers: three model calls, no HTTP. */
const delegateModel: ModelClient = {
  async chat(request: ChatRequest): Promise<ChatResult> {
    await new Promise((r) => setImmediate(r));
    const system = request.messages[0]?.role === 'system' ? request.messages[0].content : '';
    const agent = /You are the agent "([a-z_]+)"/.exec(system)?.[1];
    const base = { usage: { promptTokens: 10, completionTokens: 5 }, model: request.model, latencyMs: 0 };
    if (agent === 'proxy' && request.messages.at(-1)?.role !== 'tool') {
      const args = JSON.stringify({ recipient: 'vision_agent', message: 'What is in the picture?' });
      return { ...base, content: null, toolCalls: [{ id: `call_${Math.random().toString(36).slice(2)}`, name: 'send_message', arguments: args }], finishReason: 'tool_calls' };
    }
    return { ...base, content: agent === 'proxy' ? 'The team says: a cat.' : 'A cat.', toolCalls: [], finishReason: 'stop' };
  },
  generateImage: () => Promise.reject(new Error('no images here')),
};

let dir: string | undefined;
let sb: Switchboard | undefined;
afterEach(async () => {
  await sb?.close();
  sb = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const user = { surface: 'test', userId: 'u' };

/**
 * No heartbeat: its lease renewal is a commit of its own, and whether it lands inside a measured
 * task depends on how fast the machine is (a renewal every 30 ms instead adds one to three per task).
 */
const NO_HEARTBEAT = { pollMs: 2_147_483_647 }; // the longest interval Node's timers take

async function open(engine?: typeof NO_HEARTBEAT): Promise<{ sb: Switchboard; path: string }> {
  dir = mkdtempSync(join(tmpdir(), 'sb-writes-'));
  const path = join(dir, 'switchboard.db');
  sb = await createSwitchboard({ config: { store: { type: 'sqlite', path }, workspaceDir: join(dir, 'ws') }, cwd: dir, model: delegateModel, env: {}, engine });
  return { sb, path };
}

describe('run writes', () => {
  it('a delegate task (proxy → specialist → proxy) commits at most 9 times', async () => {
    // Only what the task itself writes is counted: nothing runs on a timer here. The conversation with
    // its participant, two threads, two runs each claimed in its commit (group commit), three model
    // steps, one tool step; the 12 lifecycle events are stored in the transactions of the steps they
    // describe. (16 before events rode their steps; 11 before stored events existed.)
    const { sb: s, path } = await open(NO_HEARTBEAT);
    (s.store as SqliteStore).db.pragma('wal_autocheckpoint = 0');
    const task = async (i: number) => {
      const conv = await s.conversation(`test:commits-${i}`, user);
      const run = await s.wait((await s.send(conv.id, { text: 'What is in cat.png?', from: user })).id);
      expect(run).toMatchObject({ status: 'completed', reply: 'The team says: a cat.' });
      await new Promise((r) => setImmediate(r)); // let the drains that follow a run find nothing (they only read)
    };
    await task(0); // warm: the first task of a process may write more (nothing is cached yet)
    const counts: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const before = walCommits(path + '-wal');
      await task(i);
      counts.push(walCommits(path + '-wal') - before);
    }
    console.log(`write commits per delegate task: ${counts.join(', ')}`);
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeLessThanOrEqual(9);
  });

  it('appends the input of a run taken over without it (started, input never written) once, then runs it', async () => {
    const { sb: s } = await open();
    const conv = await s.conversation('test:adopted', user);
    const thread = await s.store.getOrCreateThread(conv.id, 'vision_agent', 'thr_adopted');
    // As a process that died between its claim and the input would have left it.
    const run = await s.store.createRun({
      id: 'run_adopted',
      conversationId: conv.id,
      threadId: thread.id,
      agent: 'vision_agent',
      input: { content: 'What is in cat.png?', author: 'test:u' },
      requestedBy: user,
      parentRunId: null,
      parentToolCallId: null,
      depth: 0,
    });
    await s.store.updateRun(run.id, { status: 'in_progress', startedAt: 1, leaseOwner: 'gone', leaseUntil: 1 });
    expect(await s.engine.resumeOrphans()).toBe(1);
    expect(await s.wait(run.id)).toMatchObject({ status: 'completed', reply: 'A cat.' });
    expect((await s.store.listMessages(thread.id)).map((m) => [m.role, m.content, m.runId])).toEqual([
      ['user', 'What is in cat.png?', run.id],
      ['assistant', 'A cat.', run.id],
    ]);
  });
});
