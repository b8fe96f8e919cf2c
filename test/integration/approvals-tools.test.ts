import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { scriptByAgent, type FakeChatRequest } from '../support/fake-openai.js';
import { until } from '../support/plans.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';
import { delegate } from '../support/replies.js';

let h: Harness | undefined;
let other: Switchboard | undefined;
afterEach(async () => {
  await other?.close();
  other = undefined;
  await h?.close();
  h = undefined;
});

const runCode = (code: string) => ({ toolCalls: [{ name: 'run_code', arguments: { language: 'python', code } }] });
const toolResult = (req: FakeChatRequest) => req.toolResults[0]?.content ?? '';

/** proxy -> code_agent -> run_code(print(6*7)), each answering with what it got back. */
function deepScript() {
  return scriptByAgent({
    proxy: [delegate('code_agent', 'What is 6*7? Compute it.'), (req) => ({ content: `proxy got: ${toolResult(req)}` })],
    code_agent: [runCode('print(6*7)'), (req) => ({ content: `code said: ${toolResult(req).split('\n').join(' | ')}` })],
  });
}

async function pendingApproval(sb: Switchboard, conversationId: string) {
  return until(async () => (await sb.approvals({ conversationId, status: 'pending' }))[0], 'a pending approval');
}

describe('tool approvals', () => {
  it('surfaces a specialist\'s tool call deep in a delegation, with who asks and what it wants, and resumes on approval', async () => {
    h = await startHarness();
    h.fake.setHandler(deepScript());
    const conv = await h.sb.conversation('test:deep', alice);
    const events: SwitchboardEvent[] = [];
    h.sb.on(conv.id, (e) => events.push(e));
    const root = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });

    const approval = await pendingApproval(h.sb, conv.id);
    expect(approval).toMatchObject({
      kind: 'tool_call',
      agent: 'code_agent',
      toolName: 'run_code',
      arguments: { language: 'python', code: 'print(6*7)' },
      requestedBy: alice,
      status: 'pending',
    });
    expect(approval.summary).toBe('code_agent (asked by proxy) wants to run python code:\nprint(6*7)');
    const child = (await h.sb.store.getRun(approval.runId!))!;
    expect(child).toMatchObject({ agent: 'code_agent', depth: 1, parentRunId: root.id, status: 'requires_action' });
    expect((await h.sb.store.getRun(root.id))!.status).toBe('in_progress');
    const requested = events.find((e) => e.type === 'approval.requested');
    expect(requested).toMatchObject({ approvalId: approval.id, agent: 'code_agent', depth: 1, runId: child.id, kind: 'tool_call', toolName: 'run_code' });
    expect(events.find((e) => e.type === 'run.requires_action')).toMatchObject({ approvalId: approval.id, runId: child.id });
    // Nothing ran yet: the specialist waits for the person.
    expect(h.fake.requests.filter((r) => r.agent === 'code_agent')).toHaveLength(1);

    await expect(h.sb.decide(approval.id, { approve: true, by: bob })).rejects.toThrow(/Only the person who asked \(test:alice\)/);
    await h.sb.decide(approval.id, { approve: true, by: alice });
    const run = await h.sb.wait(root.id);
    expect(run.reply).toMatch(/^proxy got: code said: exit code: 0 \| duration: \d+ ms \| stdout: \| 42 \| stderr: \(empty\)$/);
    expect(events.find((e) => e.type === 'approval.decided')).toMatchObject({ approvalId: approval.id, approved: true, by: 'test:alice', depth: 1 });
    expect((await h.sb.store.getRun(child.id))!.status).toBe('completed');
  });

  it('tells the model a person declined, with their feedback, and the run goes on', async () => {
    h = await startHarness();
    h.fake.setHandler(deepScript());
    const conv = await h.sb.conversation('test:declined', alice);
    const root = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });
    const approval = await pendingApproval(h.sb, conv.id);
    await h.sb.decide(approval.id, { approve: false, feedback: 'No code today, just answer.', by: alice });
    const run = await h.sb.wait(root.id);
    expect(run.status).toBe('completed');
    expect(run.reply).toBe('proxy got: code said: A person declined this call (test:alice). Feedback: No code today, just answer. Do not retry it unchanged.');
    const steps = await h.sb.store.listRunSteps(approval.runId!);
    expect(steps.filter((s) => s.type === 'tool_call').map((s) => [s.status, s.data.declined])).toEqual([['failed', true]]);
  });

  it('takes a decision made by another process sharing the database', async () => {
    h = await startHarness();
    h.fake.setHandler(deepScript());
    const conv = await h.sb.conversation('test:cross-process', alice);
    const events: SwitchboardEvent[] = [];
    h.sb.on(conv.id, (e) => events.push(e));
    const root = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });
    const approval = await pendingApproval(h.sb, conv.id);

    other = await createSwitchboard({
      config: { store: { type: 'sqlite', path: join(h.dir, 'switchboard.db') }, workspaceDir: join(h.dir, 'workspaces') },
      env: {},
      resume: false,
    });
    expect((await other.approvals({ status: 'pending' })).map((a) => a.id)).toEqual([approval.id]);
    await other.decide(approval.id, { approve: true, by: alice });

    const run = await h.sb.wait(root.id);
    expect(run.status).toBe('completed');
    expect(run.reply).toContain('stdout: | 42');
    // The deciding process's decision is announced here too, where the conversation is watched.
    expect(events.some((e) => e.type === 'approval.decided' && e.approvalId === approval.id)).toBe(true);
  });

  it('cancels the pending approval when its run is cancelled', async () => {
    h = await startHarness();
    h.fake.setHandler(deepScript());
    const conv = await h.sb.conversation('test:cancel-run', alice);
    const root = await h.sb.send(conv.id, { text: 'what is 6*7?', from: alice });
    const approval = await pendingApproval(h.sb, conv.id);
    await h.sb.cancel(root.id, 'never mind');
    await until(async () => (await h!.sb.getApproval(approval.id)).status === 'cancelled', 'the approval to be cancelled');
    await expect(h.sb.decide(approval.id, { approve: true, by: alice })).rejects.toThrow(/no longer awaiting a decision/);
  });

  it('fails a run that makes no progress, saying so, but never one that waits for a person', async () => {
    // The engine's clock moves only when the test says: how fast the machine is cannot make a busy run look stalled.
    let now = Date.now();
    h = await startHarness({ config: { limits: { stallTimeoutMs: 300 } }, switchboard: { clock: () => now } });
    h.fake.setHandler(
      scriptByAgent({
        proxy: (req) => (req.lastUserText === 'hang' ? { hang: true } : req.agentSeq === 1 ? delegate('code_agent', 'compute') : { content: 'fine' }),
        code_agent: [runCode('print(1)'), { content: 'ran' }],
      }),
    );
    const waiting = await h.sb.conversation('test:waits', alice);
    const waitingRun = await h.sb.send(waiting.id, { text: 'compute', from: alice });
    const approval = await pendingApproval(h.sb, waiting.id);

    const stuck = await h.sb.conversation('test:stuck', alice);
    const stuckRun = await h.sb.send(stuck.id, { text: 'hang', from: alice });
    await until(() => h!.fake.requests.some((r) => r.agent === 'proxy' && r.body.messages.at(-1)?.content === 'hang'), 'the model call that hangs');
    now += 301;
    const failed = await h.sb.wait(stuckRun.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe('proxy made no progress for 300 ms (no model output, tool result or delegation activity) and was stopped.');

    // The stall check has run past its limit; the run waiting for a person (and its parent) still waits.
    expect((await h.sb.store.getRun(approval.runId!))!.status).toBe('requires_action');
    expect((await h.sb.store.getRun(waitingRun.id))!.status).toBe('in_progress');
    await h.sb.decide(approval.id, { approve: true, by: alice });
    expect((await h.sb.wait(waitingRun.id)).status).toBe('completed');
  });
});
