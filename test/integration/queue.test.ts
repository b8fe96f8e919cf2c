import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import { scriptByAgent } from '../support/fake-openai.js';
import { barrier } from '../support/replies.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';

let h: Harness | undefined;
const extra: Switchboard[] = [];
afterEach(async () => {
  for (const sb of extra.splice(0)) await sb.close();
  await h?.close();
  h = undefined;
});

/** True when no two of the spans overlap in time. */
function serial(spans: (readonly [number, number])[]): boolean {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  return sorted.every((s, i) => i === 0 || s[0] >= sorted[i - 1]![1]);
}

describe('one active run per thread', () => {
  it('answers two messages sent at once to one conversation, in order, one after the other', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `answer to ${req.lastUserText}`, latencyMs: 60 }) }));
    const conv = await h.sb.conversation('test:queue', alice);
    const [first, second] = await Promise.all([
      h.sb.send(conv.id, { text: 'first', from: alice }),
      h.sb.send(conv.id, { text: 'second', from: alice }),
    ]);
    const [a, b] = await Promise.all([h.sb.wait(first.id), h.sb.wait(second.id)]);

    expect([a.reply, b.reply]).toEqual(['answer to first', 'answer to second']);
    expect(serial(h.fake.requests.map((r) => [r.startedAt, r.endedAt!] as const))).toBe(true);
    // The thread reads as a conversation: each question followed by its answer.
    const { messages } = (await h.sb.transcript(conv.id))[0]!;
    expect(messages.map((m) => `${m.role}:${m.content}`)).toEqual([
      'user:first',
      'assistant:answer to first',
      'user:second',
      'assistant:answer to second',
    ]);
  });

  it('keeps the rule across two engines on one database file: the thread never runs twice at once', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `re: ${req.lastUserText}`, latencyMs: 40 }) }));
    const other = await createSwitchboard({
      config: { store: { type: 'sqlite', path: join(h.dir, 'switchboard.db') }, workspaceDir: join(h.dir, 'workspaces') },
      env: { OPENAI_BASE_URL: h.fake.url, OPENAI_API_KEY: 'sk-test' },
      cwd: h.dir,
      engine: { pollMs: 20 },
    });
    extra.push(other);
    const conv = await h.sb.conversation('test:two-engines', alice);
    const sends = [];
    for (let i = 0; i < 6; i++) sends.push((i % 2 ? other : h.sb).send(conv.id, { text: `m${i}`, from: alice }));
    const runs = await Promise.all(sends);
    const ended = await Promise.all(runs.map((r, i) => (i % 2 ? other : h!.sb).wait(r.id)));

    expect(ended.every((r) => r.status === 'completed')).toBe(true);
    expect(ended.map((r) => r.reply).sort()).toEqual(['re: m0', 're: m1', 're: m2', 're: m3', 're: m4', 're: m5']);
    expect(serial(h.fake.requests.map((r) => [r.startedAt, r.endedAt!] as const))).toBe(true);
    const { messages } = (await h.sb.transcript(conv.id))[0]!;
    // Every question is directly followed by its own answer: no interleaving between the engines.
    for (let i = 0; i < messages.length; i += 2) {
      expect(messages[i + 1]!.content).toBe(`re: ${messages[i]!.content}`);
    }
  });

  it('runs different conversations concurrently', async () => {
    h = await startHarness();
    // No answer before all three asked: the runs can only end if they ran at the same time.
    const together = barrier(3);
    h.fake.setHandler(scriptByAgent({ proxy: async () => (await together(), { content: 'ok' }) }));
    const convs = await Promise.all([1, 2, 3].map((i) => h!.sb.conversation(`test:par${i}`, alice)));
    const runs = await Promise.all(convs.map((c) => h!.sb.send(c.id, { text: 'hi', from: alice })));
    await Promise.all(runs.map((r) => h!.sb.wait(r.id)));
    expect(serial(h.fake.requests.map((r) => [r.startedAt, r.endedAt!] as const))).toBe(false);
  });

  it('cancels a queued run without touching the one in progress', async () => {
    h = await startHarness();
    h.fake.setHandler(scriptByAgent({ proxy: (req) => ({ content: `re: ${req.lastUserText}`, latencyMs: 80 }) }));
    const conv = await h.sb.conversation('test:cancel-queued', alice);
    const first = await h.sb.send(conv.id, { text: 'first', from: alice });
    const second = await h.sb.send(conv.id, { text: 'second', from: alice });
    const cancelled = await h.sb.cancel(second.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await h.sb.wait(first.id)).reply).toBe('re: first');
    expect(h.fake.requests.map((r) => r.agent)).toEqual(['proxy']);
  });

  it('cancels a running run, and the delegation under it', async () => {
    h = await startHarness();
    h.fake.setHandler(
      scriptByAgent({
        proxy: [{ toolCalls: [{ name: 'send_message', arguments: { recipient: 'code_agent', message: 'work long' } }] }],
        code_agent: [{ hang: true }],
      }),
    );
    const conv = await h.sb.conversation('test:cancel-running', alice);
    const events: string[] = [];
    h.sb.on(conv.id, (e) => events.push(`${e.type}:${e.agent}`));
    const run = await h.sb.send(conv.id, { text: 'go', from: alice });
    await until(() => h!.fake.requests.some((r) => r.agent === 'code_agent'));
    const ended = await h.sb.cancel(run.id, 'the user changed their mind');

    expect(ended.status).toBe('cancelled');
    expect(ended.error).toBe('the user changed their mind');
    await until(() => events.includes('run.cancelled:code_agent'));
    const child = (await h.sb.store.listRuns({ parentRunId: run.id }))[0]!;
    expect(child.status).toBe('cancelled');
  });

  it('stops a running run that another process cancelled through the store, found by the heartbeat without the event', async () => {
    h = await startHarness({ switchboard: { engine: { pollMs: 20, leaseMs: 600 } } });
    h.fake.setHandler(scriptByAgent({ proxy: () => ({ hang: true }) }));
    const convs = await Promise.all(['a', 'b'].map((k) => h!.sb.conversation(`test:cancel-elsewhere-${k}`, alice)));
    const [kept, stopped] = await Promise.all(convs.map((c) => h!.sb.send(c.id, { text: 'go', from: alice })));
    await until(() => h!.fake.requests.length === 2);
    // As another process does it, but its run.cancelled event never arrives here.
    await h.sb.store.updateRun(stopped!.id, { status: 'cancelled', error: 'stopped elsewhere' });
    const ended = await h.sb.wait(stopped!.id);
    expect([ended.status, ended.error]).toEqual(['cancelled', 'stopped elsewhere']);
    expect((await h.sb.store.getRun(kept!.id))?.status).toBe('in_progress');
  });
});

/** Polls for an event-driven condition; the budget only turns a hang into a clear failure (the test timeout is 30 s). */
async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
